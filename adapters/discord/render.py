"""The core's neutral Markdown as Discord Markdown: reader-local times, no mass pings, 2,000-char parts."""

from __future__ import annotations

import re

from chatbot.text.markdown import neutralise

MAX_MESSAGE = 2000

_TIME = re.compile(r"<time:(-?\d+)\|[^>]*>")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def render_text(text: str) -> str:
    """One piece of neutral Markdown as Discord shows it, without splitting."""
    text = _TIME.sub(lambda m: f"<t:{m.group(1)}:F> (<t:{m.group(1)}:R>)", text)
    return neutralise(text.replace("\r\n", "\n"))


def render(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Neutral Markdown as Discord messages of at most `limit` characters, split at line ends."""
    return split(render_text(text), limit)


def split(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Parts of at most `limit` characters, broken between lines where possible.

    A code block cut in two is closed at the end of one part and reopened in the next, so
    the rest of the message is not swallowed by an unclosed fence.
    """
    text = text.strip("\n")
    if not text.strip():
        return []
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    size = 0
    fence: str | None = None  # the fence that is open at the end of `current`

    def flush() -> None:
        nonlocal current, size
        body = "\n".join(current).strip("\n")
        if fence is not None:
            body += "\n" + fence
        if body.strip():
            parts.append(body)
        current = [fence] if fence is not None else []
        size = len(fence) + 1 if fence is not None else 0

    reserve = 8  # room for closing a fence that the part leaves open
    for line in _lines(text, limit - reserve):
        needed = len(line) + (1 if current else 0)
        if current and size + needed > limit - reserve:
            flush()
            needed = len(line) + (1 if current else 0)
        current.append(line)
        size += needed
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker.startswith(fence[0]) and len(marker) >= len(fence):
                fence = None
    if current:
        closing, fence = fence, None
        body = "\n".join(current).strip("\n")
        if closing is not None:
            body += "\n" + closing
        if body.strip():
            parts.append(body)
    return parts


def _lines(text: str, width: int):
    """The text's lines, with any line longer than `width` broken at spaces (or hard)."""
    for line in text.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", width // 2, width)
            if cut <= 0:
                cut = width
            yield line[:cut].rstrip()
            line = line[cut:].lstrip()
        yield line
