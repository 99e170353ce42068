"""The command table names each command's handler and its permission; the dispatcher keeps to both."""

from __future__ import annotations

import inspect

import pytest

from chatbot.commands import COMMANDS
from chatbot.events import Answer
from chatbot.meetings.context import CommandContext
from chatbot.meetings.dispatch import handler_of
from chatbot.meetings.updates import read_reply


def test_the_table_pins_each_command_to_its_handler():
    assert {c.key: c.handler for c in COMMANDS} == {
        "agenda add": "agenda.add", "agenda list": "agenda.show", "agenda remove": "agenda.remove",
        "agenda move": "agenda.move", "agenda defer": "agenda.defer", "agenda note": "agenda.note",
        "update": "updates.quick_update", "apologies": "updates.apologies",
        "celebrate": "updates.celebrate",
        "meeting": "lifecycle.status", "meeting help": "lifecycle.show_help",
        "meeting here": "people.here", "meeting profile": "people.profile",
        "meeting chair": "people.appoint", "meeting notetaker": "people.appoint",
        "meeting remind": "lifecycle.remind", "meeting compile": "lifecycle.compile_now",
        "meeting start": "lifecycle.start", "meeting end": "lifecycle.end",
        "meeting action": "lifecycle.action", "meeting skip": "lifecycle.skip",
        "meeting cancel": "lifecycle.skip",
    }


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.key)
def test_every_entry_names_a_handler_that_takes_the_calls_context(command):
    handler = handler_of(command)
    module, _, name = command.handler.rpartition(".")
    assert (handler.__module__, handler.__name__) == (f"chatbot.meetings.{module}", name)
    signature = inspect.signature(handler, eval_str=True)
    [parameter] = signature.parameters.values()
    assert parameter.annotation is CommandContext and parameter.default is parameter.empty
    assert signature.return_annotation is Answer


def test_the_table_says_which_commands_only_the_chair_may_use():
    assert {c.key: c.act for c in COMMANDS if c.chair_only} == {
        "meeting start": "start the meeting", "meeting end": "end the meeting",
        "meeting skip": "skip a meeting", "meeting cancel": "cancel a meeting",
    }
    assert not any(c.act for c in COMMANDS if not c.chair_only)


@pytest.mark.parametrize("text, recorded", [
    ("pass", ("pass", "", False)),
    ("  Pass. ", ("pass", "", False)),
    ("PASS!", ("pass", "", False)),
    ("apologies, pass", ("pass", "", True)),
    ("passing the baton", ("update", "passing the baton", False)),
    ("pass: I shipped 2.0", ("update", "pass: I shipped 2.0", False)),
    ("Regrets!", ("apologies", "", True)),
    ("can’t attend — shipped 2.0", ("update", "shipped 2.0", True)),
])
def test_a_reply_is_read_as_an_update_a_pass_or_apologies(text, recorded):
    assert read_reply(text) == recorded
