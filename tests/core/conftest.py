"""A bot on the terminal adapter, driven line by line like a person at the prompt."""

from __future__ import annotations

import asyncio
import io

import pytest

from adapters.terminal import TerminalAdapter
from chatbot.app import build_runtime
from chatbot.schedule.config import parse_config
from chatbot.settings import load_settings

SERIES = """
[[series]]
id = "hubs"
name = "Hubs Team Meeting"
schedule = "every 3rd tuesday"
time = "17:00"
timezone = "UTC"
video_url = "https://meet.jit.si/HubsTeamMeeting"
notes_url = "https://hackmd.io/@hubs/notes"
"""


class Bot:
    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.engine = runtime.engine
        self.output = io.StringIO()
        self.adapter = TerminalAdapter(runtime.port("terminal"), input=io.StringIO(), output=self.output)
        runtime.connect({"terminal": self.adapter.delivery})

    def say(self, *lines: str) -> str:
        """Type lines; return everything printed in answer."""
        start = self.output.tell()
        self.adapter.input = io.StringIO("\n".join(lines) + "\n")
        asyncio.run(self.adapter.run())
        return self.output.getvalue()[start:]

    def notes(self, day=None) -> str:
        return self.engine.notes("hubs", day)[1]


@pytest.fixture
def make_bot(database_url, clock, tmp_path):
    def make(config: str = SERIES) -> Bot:
        settings = load_settings(database_url=database_url, archive_dir=tmp_path / "archive")
        runtime = build_runtime(settings, ["terminal"], clock=clock, config=parse_config(config))
        return Bot(runtime)

    return make


@pytest.fixture
def bot(make_bot) -> Bot:
    return make_bot()
