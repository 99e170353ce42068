"""Every parser of people's text takes time in proportion to the text, at the longest text each
platform lets a person send: one slow pattern holds the GIL and freezes every other request.

Times are compared with a trivial parse (one linear regular-expression pass) of the same text,
measured in the same run, so a busy machine slows both sides alike.
"""

from __future__ import annotations

import re
import time
from types import MappingProxyType

import pytest

from adapters.discord import render as discord_render
from adapters.discord import translate as discord_translate
from adapters.slack import render as slack_render
from adapters.slack import translate as slack_translate
from adapters.terminal import render as terminal_render
from chatbot import commands
from chatbot.text import durations, markdown as md, rollcall
from chatbot.text.split import split

SLACK_TEXT = 40_000  # Slack keeps at most 40,000 characters of a message's or a command's text
DISCORD_OPTION = 6_000  # Discord: a string option holds at most 6,000 characters
DISCORD_MESSAGE = 4_000  # Discord: 2,000 characters a message, 4,000 with Nitro

# Runs of these, alone or mixed, are the worst cases of the patterns people's text meets:
# a class that keeps scanning on a failed match, an opener without its closer, nested tokens.
UNITS = ("a", " ", "a@", "a@a.", "a.", "(", "(1 min", "(~1", "~1", "1", "1 ", "1h", "1-", "<", "<@U", "<!",
         "<http://", "[", "[a](", "](http://", "http://", "@", "`", "*", "**", "_", "\\", "&", "\n",
         "\n ", "- ", "\t", "/", "a/", "for <@U1> ", "#", "> ", ":", "|", "<#C1|", "<time:1|", "<!subteam^",
         "<!here|", "<mailto:", "[a](http://", "![", "(about ", "( ~", "(1.", "(1 - ",
         # One opener, then a long run of what may follow it.
         ("(", " "), ("(about", " "), ("(~", " "), ("(1", " "), ("a@", "a"), ("<http://", "a"),
         ("[", "a"), ("<#C1|", "a"), ("```", "a\n"), ("http://", "a."), "<@U1|", ("# a", " "), ("# ", " #"))

# How many times slower than the trivial parse of the same text a parser may be. Linear parsers
# stay under about 1,000 (a pattern that matches every character calls Python back for each);
# the quadratic patterns this guards against took 8,000 to 200,000 at these lengths.
FACTOR = 2_500

_TRIVIAL = re.compile(r"[\x00-\x1f]")


def _trivial(text: str) -> None:
    _TRIVIAL.sub("", text)


def _seconds(parse, text: str) -> float:
    start = time.perf_counter()
    try:
        parse(text)
    except ValueError:
        pass  # refusing the text is a parse too
    return time.perf_counter() - start


def _fill(unit: str | tuple[str, str], length: int) -> str:
    head, unit = unit if isinstance(unit, tuple) else ("", unit)
    return (head + unit * (length // len(unit) + 1))[:length - 1] + "x"  # an end that strip() keeps


def _slack_command(group: str, prefix: str = ""):
    def parse(text: str) -> None:
        form = {"command": f"/{group}", "text": prefix + text, "user_id": "U1", "channel_id": "C1"}
        call = slack_translate.command_to_event(form)
        commands.parse(call.command, call.text)
    return parse


def _discord_option(group: str, name: str, option: str):
    value = {"name": option, "value": None}
    data = {"name": group, "options": [{"type": 1, "name": name, "options": [value]}] if name else [value]}

    def parse(text: str) -> None:
        value["value"] = text
        call = discord_translate.to_call(data, actor=None, place=None)
        commands.parse(call.command, call.text)
    return parse


_NONE = MappingProxyType({})

PARSERS = {
    # The core's grammar, as every adapter hands it people's text.
    **{f"/{c.key} (slack)": (SLACK_TEXT, _slack_command(c.group, (c.name + " " if c.name else "")
                                                         + ("1 " * sum(p.kind == "int" for p in c.params))))
       for c in commands.COMMANDS},
    "/agenda add for @user (slack)": (SLACK_TEXT, _slack_command("agenda", "add for <@U1> ")),
    "/meeting action @user (slack)": (SLACK_TEXT, _slack_command("meeting", "action <@U1> ")),
    "parse_profile": (SLACK_TEXT, rollcall.parse_profile),
    "parse_estimate": (SLACK_TEXT, durations.parse_estimate),
    "check_text (thread replies)": (SLACK_TEXT, commands.check_text),
    "mentions": (SLACK_TEXT, commands.mentions),
    # People's text on its way into the bot's posts, notes and answers.
    "inline": (SLACK_TEXT, md.inline),
    "outline": (SLACK_TEXT, md.outline),
    "name": (SLACK_TEXT, md.name.__wrapped__),
    "slack message text": (SLACK_TEXT, lambda t: slack_translate.free_text(t, _NONE)),
    "slack mrkdwn of people's text": (SLACK_TEXT, lambda t: slack_render.mrkdwn(md.inline(t))),
    "slack mrkdwn of an answer": (SLACK_TEXT, slack_render.mrkdwn),
    "split": (SLACK_TEXT, lambda t: split(t, 2_900)),
    "terminal render": (SLACK_TEXT, terminal_render),
    "discord /agenda add": (DISCORD_OPTION, _discord_option("agenda", "add", "text")),
    "discord /update": (DISCORD_OPTION, _discord_option("update", "", "text")),
    "discord message text": (DISCORD_MESSAGE, lambda t: discord_translate.free_text(t, _NONE)),
    "discord render": (DISCORD_MESSAGE, lambda t: discord_render.render(md.inline(t))),
}


@pytest.mark.parametrize("name", list(PARSERS))
def test_parsing_people_text_is_linear_at_the_platform_limit(name):
    length, parse = PARSERS[name]
    slow = []
    for unit in UNITS:
        text = _fill(unit, length)
        # The fastest of a few tries: a busy machine only ever adds time.
        trivial = min(_seconds(_trivial, text) for _ in range(5))
        taken = _seconds(parse, text)
        for _ in range(2):
            if taken <= FACTOR * trivial or taken > 10 * FACTOR * trivial:
                break  # clearly fine, or clearly not a matter of a busy moment
            taken = min(taken, _seconds(parse, text))
            trivial = min(trivial, _seconds(_trivial, text))
        if taken > FACTOR * trivial:
            slow.append(f"{unit!r} × {length:,}: {taken:.3f} s, {taken / trivial:,.0f}× the trivial parse")
    assert slow == []
