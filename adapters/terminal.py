"""The terminal adapter: the whole bot on standard input and output, with no chat platform.

Lines starting with `/` are commands; `/as <handle>` switches who is speaking; any other line is
a reply in the open call-for-updates thread. A line ending in a backslash continues on the next.
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
import re
import sys
import uuid
from typing import TextIO

from chatbot.commands import lookup
from chatbot.events import TERMINAL, Actor, Answer, CommandCall, Delivered, Place, Post, Reply
from chatbot.ports import Core, Events, Incoming
from chatbot.text.markdown import ENTITY

_HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# A person where the command takes one ("chair @sarah", "add for @min ..."); elsewhere "@GESIS" is text.
_MENTION = re.compile(r"\A((?:for[ \t]+)?)@(?!(?:channel|here|everyone)\b)([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\b")
_TIME = re.compile(r"<time:\d+\|([^<>]*)>")
_SHOWN = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def render(text: str) -> str:
    """Neutral Markdown for a terminal: times in the series' own zone, entities as characters."""
    text = _TIME.sub(r"\1", text)
    return ENTITY.sub(lambda m: _SHOWN[m.group(1)], text) if "&" in text else text


class TerminalDelivery:
    """Posts go to standard output, with a made-up message id so threads work as elsewhere."""

    def __init__(self, output: TextIO) -> None:
        self.output = output
        self._ids = itertools.count(1)

    async def post(self, post: Post) -> Delivered:
        message_id = post.edit_of or f"m{next(self._ids)}"
        heading = "updated " if post.edit_of else ""
        where = f" (thread {post.thread_of})" if post.thread_of else ""
        print(f"--- {heading}{post.kind} in #{post.channel}{where} ---", file=self.output)
        print(render(post.text), file=self.output)
        if post.attachment is not None:
            print(f"--- attached {post.attachment.filename} ---", file=self.output)
            print(post.attachment.content, end="", file=self.output)
        print("---", file=self.output, flush=True)
        return Delivered(message_id)


class TerminalAdapter:
    platform = TERMINAL

    def __init__(self, core: Core, *, series_id: str | None = None, speaker: str | None = None,
                 input: TextIO | None = None, output: TextIO | None = None) -> None:
        self.core = core
        self.series_id = series_id or core.channels()[0]
        self.speaker = speaker or _default_handle()
        self.input = input or sys.stdin
        self.output = output or sys.stdout
        self.delivery = TerminalDelivery(self.output)
        self.events: Events | None = None
        # Reply ids must stay unique across sessions that share one database.
        self._session = uuid.uuid4().hex[:8]
        self._lines = itertools.count(1)

    def say(self, text: str, ok: bool = True) -> None:
        print(render(text) if ok else f"✗ {render(text)}", file=self.output, flush=True)

    def to_event(self, line: str) -> CommandCall | Answer | str | None:
        """A typed line as a command, the answer to a terminal-only command, or (a plain string)
        the text of a reply in the open thread."""
        line = line.strip()
        if not line:
            return None
        if not line.startswith("/"):
            return line
        actor = Actor(TERMINAL, self.speaker, self.speaker)
        place = Place(TERMINAL, self.series_id)
        word, _, rest = line[1:].partition(" ")
        if word == "as":
            handle = rest.strip().lstrip("@")
            if not _HANDLE.fullmatch(handle):
                return Answer("Write `/as <handle>`, like `/as minrk` (letters, digits, . _ -).", ok=False)
            self.speaker = handle
            return Answer(f"Now speaking as {handle}.")
        return CommandCall(actor, place, word, _mention(word, rest))

    async def _reply(self, text: str) -> Reply | Answer:
        thread = await self.core.updates_thread(self.series_id)
        if thread is None:
            return Answer("No call for updates is open, so this line was not saved. "
                          "`/meeting remind` opens one; `/update <text>` works any time.", ok=False)
        return Reply(Actor(TERMINAL, self.speaker, self.speaker), Place(TERMINAL, self.series_id, thread),
                     f"{self._session}-{next(self._lines)}", text)

    async def handle_line(self, line: str) -> None:
        event = self.to_event(line)
        if isinstance(event, str):
            event = await self._reply(event)
        if event is None:
            return
        answers = [event] if isinstance(event, Answer) else await self.events.submit(Incoming(event))
        for answer in answers:
            self.say(answer.text, answer.ok)
        await self.core.settle()

    async def run(self) -> None:
        interactive = self.input.isatty()
        if interactive:
            self.say(f"Meeting bot for {self.series_id}, speaking as {self.speaker}. "
                     "`/meeting help` lists the commands; Ctrl-D quits.")
        self.events = self.core.events()
        try:
            await self._read_lines()
        finally:
            await self.events.close()

    async def _read_lines(self) -> None:
        pending = ""
        while True:
            line = await asyncio.to_thread(self.input.readline)
            if not line:
                break
            line = line.rstrip("\n")
            if line.endswith("\\"):
                pending += line[:-1] + "\n"
                continue
            await self.handle_line(pending + line)
            pending = ""
        if pending:
            await self.handle_line(pending)

    async def close(self) -> None:
        return None


def _mention(group: str, rest: str) -> str:
    sub, space, tail = rest.partition(" ")
    command = lookup(group, sub.lower())
    user = next((p for p in command.params if p.kind == "user"), None) if command else None
    if user is None:
        return rest
    tail = tail.lstrip(" ")
    if not user.required and not tail.lower().startswith("for"):
        return rest
    return sub + space + _MENTION.sub(r"\1<@\2>", tail, count=1)


def _default_handle() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # no user name in some containers
        name = "me"
    return name if _HANDLE.fullmatch(name) else "me"


def create(core: Core, **options) -> TerminalAdapter:
    return TerminalAdapter(core, **options)
