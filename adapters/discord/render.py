"""The core's neutral Markdown as Discord Markdown: reader-local times, no mass pings, 2,000-char parts."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from discord.utils import format_dt

from chatbot.text.markdown import ENTITY, neutralise, unmask
from chatbot.text.split import split

MAX_MESSAGE = 2000

_TIME = re.compile(r"<time:(-?\d+)\|[^<>]*>")


def _time(match: re.Match) -> str:
    moment = datetime.fromtimestamp(int(match.group(1)), timezone.utc)
    return f"{format_dt(moment, 'F')} ({format_dt(moment, 'R')})"


# Discord reads no HTML entities. Before what Discord would read as a mention, a channel, an emoji,
# a time or a command, a backslash keeps the `<` as text.
_SHOWN = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_DISCORD_TOKEN = re.compile(r"&lt;(?=[@#:/]|a:|t:|id:)")


def render_text(text: str) -> str:
    """One piece of neutral Markdown as Discord shows it, without splitting."""
    text = unmask(neutralise(_TIME.sub(_time, text).replace("\r\n", "\n")))
    if "&" not in text:
        return text
    return ENTITY.sub(lambda m: _SHOWN[m.group(1)], _DISCORD_TOKEN.sub(r"\\<", text))


def render(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Neutral Markdown as Discord messages of at most `limit` characters, split at line ends."""
    return split(render_text(text), limit)
