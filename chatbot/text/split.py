"""Cutting rendered text into the parts a platform's message limit allows; each renderer gives its limit."""

from __future__ import annotations

import re
from collections.abc import Iterator

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# Room kept in every part for closing a code block that the part leaves open.
_RESERVE = 8


def split(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` characters, broken between lines where possible; no part for
    text that is only white space.

    A line longer than a part is broken at a space, never inside a `<...>` construct (a link, a
    mention, a date); a code block cut in two is closed at the end of one part and reopened in the
    next, so the rest of the message is not swallowed by an unclosed fence.
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

    width = limit - _RESERVE
    for line in _lines(text, width):
        needed = len(line) + (1 if current else 0)
        if current and size + needed > width:
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
        body = "\n".join(current).strip("\n")
        if fence is not None:
            body += "\n" + fence
        if body.strip():
            parts.append(body)
    return parts


def _lines(text: str, width: int) -> Iterator[str]:
    """The text's lines, with any line longer than `width` broken."""
    for line in text.split("\n"):
        while len(line) > width:
            head, line = _cut(line, width)
            yield head
        yield line


def _cut(line: str, width: int) -> tuple[str, str]:
    """An over-long line in two: at the last space that keeps at least half the width, else hard;
    moved back to the start of a `<...>` construct the cut would fall inside."""
    cut = line.rfind(" ", width // 2, width)
    if cut <= 0:
        cut = width
    opened = line.rfind("<", 0, cut)
    if opened > 0 and opened > line.rfind(">", 0, cut):
        cut = opened
    return line[:cut].rstrip(), line[cut:].lstrip()
