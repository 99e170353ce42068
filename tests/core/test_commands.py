"""The command table and grammar: every usage parses, every malformed input says how to write it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot import commands
from chatbot.commands import COMMANDS, UsageError, parse
from chatbot.text.durations import parse_estimate, parse_offset


def test_the_table_pins_the_command_list():
    assert [c.key for c in COMMANDS] == [
        "agenda add", "agenda list", "agenda remove", "agenda move", "agenda defer", "agenda note",
        "update", "apologies", "celebrate",
        "meeting", "meeting help", "meeting here", "meeting profile", "meeting chair",
        "meeting notetaker", "meeting remind", "meeting compile", "meeting start", "meeting end",
        "meeting action", "meeting skip", "meeting cancel",
    ]
    assert all(c.usage.startswith(f"/{c.group}") and c.help for c in COMMANDS)
    assert commands.help_text().count("\n") == len(COMMANDS) - 1


@pytest.mark.parametrize("group, text, key, args", [
    ("agenda", "add (~5min) JupyterHub 3.0", "agenda add", {"presenter": None, "text": "(~5min) JupyterHub 3.0"}),
    ("agenda", "add for <@U1> talk", "agenda add", {"presenter": "U1", "text": "talk"}),
    ("agenda", "add for <@U1|min> talk", "agenda add", {"presenter": "U1", "text": "talk"}),
    ("agenda", "", "agenda list", {}),
    ("agenda", "move 3 #1", "agenda move", {"number": 3, "to": 1}),
    ("update", "pass", "update", {"text": "pass"}),
    ("apologies", "", "apologies", {"text": ""}),
    ("meeting", "", "meeting", {}),
    ("meeting", "chair <@42>", "meeting chair", {"user": "42"}),
    ("meeting", "action <@42> write the changelog", "meeting action", {"user": "42", "text": "write the changelog"}),
    ("/MEETING", "Here", "meeting here", {}),
])
def test_usages_parse(group, text, key, args):
    invocation = parse(group, text)
    assert invocation.command.key == key
    assert invocation.args == args


@pytest.mark.parametrize("group, text, expected", [
    ("agendas", "list", "Unknown command /agendas. Did you mean /agenda?"),
    ("agenda", "ad thing", "Unknown subcommand 'ad' for /agenda. Did you mean add?"),
    ("meeting", "frobnicate", "Unknown subcommand 'frobnicate' for /meeting."),
    ("agenda", "add", "The text is empty. Write it as `/agenda add [for @user] <text>`."),
    ("agenda", "add    ", "The text is empty."),
    ("update", "", "The text is empty. Write it as `/update <text> | /update pass`."),
    ("update", "x" * 4001, "That is 4,001 characters; the limit is 4,000."),
    ("agenda", "remove", "A number is missing (the item's number in /agenda list). Write it as `/agenda remove N`."),
    ("agenda", "remove two", "'two' is not a number. Write it as `/agenda remove N`."),
    ("agenda", "move 1", "A number is missing (the new place)."),
    ("agenda", "remove 1 2", "Unexpected '2' after the command."),
    ("meeting", "chair min", "Name the person with an @mention. Write it as `/meeting chair @user`."),
    ("meeting", "here now", "Unexpected 'now' after the command. Write it as `/meeting here`."),
])
def test_malformed_commands_say_how_to_write_them(group, text, expected):
    with pytest.raises(UsageError) as error:
        parse(group, text)
    assert expected in str(error.value)


@pytest.mark.parametrize("text, minutes, written, optional", [
    ("(~5min) JupyterHub 3.0", 5, "~5min", False),
    ("(5 minutes) thing", 5, "5 minutes", False),
    ("(<5 minutes) thing", 5, "<5 minutes", False),
    ("(2m) thing", 2, "2m", False),
    ("thing 10 min", 10, "10 min", False),
    ("thing (optional)", None, None, True),
    ("thing if there is time", None, None, True),
    ("(10 minutes): thing (optional)", 10, "10 minutes", True),
    ("(1h) long thing", 60, "1h", False),
    ("(5-10 min) range", 10, "5-10 min", False),
    ("Python 3.10 support", None, None, False),
])
def test_estimates_in_every_form(text, minutes, written, optional):
    estimate = parse_estimate(text)
    assert (estimate.minutes, estimate.written, estimate.optional) == (minutes, written, optional)
    assert "(" not in estimate.title or "optional" in estimate.title


@pytest.mark.parametrize("text", ["(five-ish min) thing", "(0 min) thing", "(999 minutes) thing"])
def test_unreadable_estimates_are_refused(text):
    with pytest.raises(ValueError, match=r"\(~5min\)"):
        parse_estimate(text)


def test_offsets():
    assert parse_offset("1h30m").total_seconds() == 5400
    assert parse_offset("-15m").total_seconds() == -900
    with pytest.raises(ValueError, match="7d"):
        parse_offset("soon")


@settings(max_examples=400, deadline=None)
@given(group=st.sampled_from(["agenda", "update", "apologies", "celebrate", "meeting", "nope"]),
       text=st.text(max_size=300))
def test_no_text_makes_the_grammar_raise_anything_but_a_usage_error(group, text):
    try:
        invocation = parse(group, text)
    except UsageError as error:
        assert str(error)
    else:
        assert invocation.command.group == group


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_estimate_parsing_never_crashes(text):
    try:
        estimate = parse_estimate(text)
    except ValueError as error:
        assert "(~5min)" in str(error)
    else:
        assert estimate.minutes is None or 0 < estimate.minutes <= 240
