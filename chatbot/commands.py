"""The one command table and its grammar, shared by every adapter (terminal, Slack, Discord).

The table is the help text, the Slack manifest, the Discord command tree and each one's handler.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

MAX_TEXT = 4000


class UsageError(ValueError):
    """A command that cannot be read; the message says what was wrong and how to write it."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "text", "int", "user", "profile" (a roll-call line, kept as written)
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class Command:
    group: str  # the slash command: agenda, update, apologies, celebrate, meeting
    name: str  # the subcommand, "" for the group's own action
    params: tuple[Param, ...]
    usage: str
    help: str
    handler: str  # "<module>.<function>" in chatbot/meetings/, called with the call's context
    chair_only: bool = False  # the chair or an admin only; anyone while nobody is in charge
    act: str = ""  # what a chair-only command does, as its refusal names it

    @property
    def key(self) -> str:
        return f"{self.group} {self.name}".strip()


def _c(group, name, usage, help, *params, handler: str, chair_only: str = "") -> Command:
    """An entry; `chair_only` names what only the chair may do ("start the meeting")."""
    return Command(group, name, tuple(params), usage, help, handler, bool(chair_only), chair_only)


_TEXT = Param("text", "text", description="what to say")
_NUMBER = Param("number", "int", description="the item's number in /agenda list")
_USER = Param("user", "user", description="who")

COMMANDS: tuple[Command, ...] = (
    _c("agenda", "add", "/agenda add [for @user] <text>",
       "Add an agenda item; put a time estimate like (~5min) anywhere in the text, "
       "and (optional) or 'if there is time' for an item that can wait.",
       Param("presenter", "user", required=False, description="who presents it (default: you)"),
       _TEXT, handler="agenda.add"),
    _c("agenda", "list", "/agenda list", "Show the agenda with its running total against the slot.",
       handler="agenda.show"),
    _c("agenda", "remove", "/agenda remove N", "Remove item N (yours; the chair may remove any).",
       _NUMBER, handler="agenda.remove"),
    _c("agenda", "move", "/agenda move N M", "Move item N to place M.",
       _NUMBER, Param("to", "int", description="the new place"), handler="agenda.move"),
    _c("agenda", "defer", "/agenda defer N", "Move item N to the next meeting.", _NUMBER,
       handler="agenda.defer"),
    _c("agenda", "note", "/agenda note N <text>",
       "Add a note under item N; lines after the first are nested under it.", _NUMBER, _TEXT,
       handler="agenda.note"),
    _c("update", "", "/update <text> | /update pass",
       "Set or replace your 60-second update for the next meeting, or pass.", _TEXT,
       handler="updates.quick_update"),
    _c("apologies", "", "/apologies [text]",
       "You cannot attend; anything after it is your update.",
       Param("text", "text", required=False, description="your update"), handler="updates.apologies"),
    _c("celebrate", "", "/celebrate <text>", "Add a report or celebration.", _TEXT,
       handler="updates.celebrate"),
    _c("meeting", "", "/meeting",
       "The next meeting: time in your zone, links, counts and how the agenda fits.",
       handler="lifecycle.status"),
    _c("meeting", "help", "/meeting help", "List every command.", handler="lifecycle.show_help"),
    _c("meeting", "here", "/meeting here", "Sign the roll call for the next meeting.",
       handler="people.here"),
    _c("meeting", "profile", "/meeting profile <name> / <institution> / <github>",
       "Set your roll-call line in the order the series' roll call asks, e.g. "
       "/meeting profile Min RK / Simula / @minrk; pronouns and a location may ride along.",
       Param("profile", "profile", description="name / institution / github"), handler="people.profile"),
    _c("meeting", "chair", "/meeting chair @user", "Set the chair of the next meeting.", _USER,
       handler="people.appoint"),
    _c("meeting", "notetaker", "/meeting notetaker @user",
       "Set the notetaker of the next meeting.", _USER, handler="people.appoint"),
    _c("meeting", "remind", "/meeting remind",
       "Post the call for updates now: replies in its thread are quick updates.",
       handler="lifecycle.remind"),
    _c("meeting", "compile", "/meeting compile", "Compile the notes and post the digest now.",
       handler="lifecycle.compile_now"),
    _c("meeting", "start", "/meeting start",
       "Start the live meeting: each agenda item is posted, replies under it are its notes.",
       handler="lifecycle.start", chair_only="start the meeting"),
    _c("meeting", "end", "/meeting end",
       "End the meeting: compile, archive and carry unfinished items over.",
       handler="lifecycle.end", chair_only="end the meeting"),
    _c("meeting", "action", "/meeting action @user <text>", "Record an action item.",
       _USER, _TEXT, handler="lifecycle.action"),
    _c("meeting", "skip", "/meeting skip", "Skip the next meeting (a short notice is posted).",
       handler="lifecycle.skip", chair_only="skip a meeting"),
    _c("meeting", "cancel", "/meeting cancel", "Cancel the next meeting (a short notice is posted).",
       handler="lifecycle.skip", chair_only="cancel a meeting"),
)

GROUPS: tuple[str, ...] = tuple(dict.fromkeys(c.group for c in COMMANDS))


def lookup(group: str, name: str) -> Command | None:
    return next((c for c in COMMANDS if c.group == group and c.name == name), None)


def help_text() -> str:
    return "\n".join(f"`{c.usage}` {c.help}" for c in COMMANDS)


@dataclass(frozen=True)
class Invocation:
    command: Command
    args: dict = field(default_factory=dict)


_MENTION = re.compile(r"<@([A-Za-z0-9_.\-]+)(?:\|[^<>]*)?>")
_INT = re.compile(r"#?(-?\d+)")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Control characters (NUL above all, which PostgreSQL refuses) never reach storage."""
    return _CONTROL.sub("", text)


def parse(group: str, text: str) -> Invocation:
    """Read `/<group> <text>` against the table; UsageError says what was wrong and the right form."""
    group, text = clean(group).strip().lstrip("/").lower(), clean(text)
    if group not in GROUPS:
        raise UsageError(
            f"Unknown command /{group}. {_suggest(group, GROUPS, '/')}"
            f"The commands are {', '.join('/' + g for g in GROUPS)}."
        )
    text = text.strip()
    subcommands = [c.name for c in COMMANDS if c.group == group and c.name]
    word, _, rest = text.partition(" ")
    command = lookup(group, word.lower()) if word and subcommands else None
    if command is None:
        command = lookup(group, "")
        rest = text
        if command is None:
            if not word:
                command = lookup(group, "list")  # "/agenda" alone shows the agenda
            else:
                raise UsageError(
                    f"Unknown subcommand {word!r} for /{group}. {_suggest(word, subcommands, '')}"
                    + "Use one of: " + ", ".join(f"`{c.usage}`" for c in COMMANDS if c.group == group)
                )
        elif rest and not command.params:
            # `/meeting foo` where `/meeting` itself takes nothing: foo is a wrong subcommand.
            raise UsageError(
                f"Unknown subcommand {word!r} for /{group}. {_suggest(word, subcommands, '')}"
                + "Use one of: " + ", ".join(f"`{c.usage}`" for c in COMMANDS if c.group == group)
            )
    return Invocation(command, _bind(command, rest.strip()))


def _suggest(word: str, options, prefix: str) -> str:
    close = difflib.get_close_matches(word.lower(), list(options), n=1)
    return f"Did you mean {prefix}{close[0]}? " if close else ""


def _bind(command: Command, rest: str) -> dict:
    args: dict = {}
    usage = f"Write it as `{command.usage}`."
    for param in command.params:
        if param.kind == "int":
            word, _, rest = rest.partition(" ")
            match = _INT.fullmatch(word)
            if not match:
                what = f"{word!r} is not a number" if word else f"A number is missing ({param.description})"
                raise UsageError(f"{what}. {usage}")
            args[param.name] = int(match.group(1))
        elif param.kind == "user":
            if param.required:
                match = _MENTION.match(rest)
                if not match:
                    raise UsageError(f"Name the person with an @mention. {usage}")
                args[param.name] = match.group(1)
                rest = rest[match.end():].lstrip()
            else:
                match = re.match(r"for\s+" + _MENTION.pattern + r"\s*", rest, re.IGNORECASE)
                args[param.name] = match.group(1) if match else None
                if match:
                    rest = rest[match.end():]
        elif param.kind == "text":
            args[param.name] = _text(rest, required=param.required, usage=usage)
            rest = ""
        elif param.kind == "profile":  # read in the handler, in the layout of the series' roll call
            args[param.name] = _text(rest, required=True, usage=usage)
            rest = ""
    if rest.strip():
        raise UsageError(f"Unexpected {rest.strip()[:40]!r} after the command. {usage}")
    return args


def _text(text: str, *, required: bool, usage: str) -> str:
    text = text.strip()
    if not text:
        if required:
            raise UsageError(f"The text is empty. {usage}")
        return ""
    if len(text) > MAX_TEXT:
        raise UsageError(
            f"That is {len(text):,} characters; the limit is {MAX_TEXT:,}. "
            "Shorten it, or put the details in a linked document."
        )
    return text


def check_text(text: str) -> str:
    """The same checks for free text that arrives outside a command (thread replies)."""
    return _text(clean(text), required=True, usage="Write a few words, or `pass`.")


def mentions(text: str) -> list[str]:
    return _MENTION.findall(text)
