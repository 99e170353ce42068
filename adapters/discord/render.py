"""The core's neutral Markdown as Discord Markdown: reader-local times, no mass pings, 2,000-char parts."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from discord.utils import format_dt

from chatbot.text.markdown import neutralise
from chatbot.text.split import split

MAX_MESSAGE = 2000

_TIME = re.compile(r"<time:(-?\d+)\|[^>]*>")


def _time(match: re.Match) -> str:
    moment = datetime.fromtimestamp(int(match.group(1)), timezone.utc)
    return f"{format_dt(moment, 'F')} ({format_dt(moment, 'R')})"


def render_text(text: str) -> str:
    """One piece of neutral Markdown as Discord shows it, without splitting."""
    return neutralise(_TIME.sub(_time, text).replace("\r\n", "\n"))


def render(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Neutral Markdown as Discord messages of at most `limit` characters, split at line ends."""
    return split(render_text(text), limit)
