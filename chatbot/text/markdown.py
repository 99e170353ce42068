"""Making people's text safe to place inside the bot's Markdown: no pings, no broken structure."""

from __future__ import annotations

import functools
import re

ZWSP = "\u200b"
# Slack's special mentions (<!channel>, <!here|here>, <!subteam^ID>) and the plain forms people type.
_SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>|<!subteam\^[^>]*>", re.IGNORECASE)
_AT_ALL = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_BARE_URL = re.compile(r"(?<![<(\[\w])(https?://[^\s<>]*[^\s<>.,;:!?'\")\]])")
_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|>|[-+*=_](?=\s|$|[-=_*]{2,})|\d{1,9}[.)](?=\s|$)|`{3,}|~{3,}|\|)")
# `<` opens raw HTML (and our own `<time:...>` marker) only before a letter, `/`, `!` or `?`.
_TAG = re.compile(r"<(?=[A-Za-z/!?@#])(?!https?://|mailto:)")
_BULLET = re.compile(r"^(\s*)(?:[-*+•]\s+)")
_BLOCK_STARTS = frozenset("#>-+*=_0123456789`~|")


def neutralise(text: str) -> str:
    """Break every whole-channel mention so that no platform turns it into a ping."""
    if "<!" in text:
        text = _SPECIAL.sub(lambda m: "@" + ZWSP + (m.group(1) or "subteam").lower(), text)
    return _AT_ALL.sub("@" + ZWSP, text) if "@" in text else text


def inline(text: str) -> str:
    """One line of someone's text, made safe to follow a bullet: no block syntax, links as <url>."""
    text = neutralise(text.replace("\r", "").replace("\n", " ").strip())
    if "<" in text:
        text = _TAG.sub(r"\\<", text)
    if text[:1] in _BLOCK_STARTS:
        text = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text, count=1)
    return _BARE_URL.sub(r"<\1>", text) if "http" in text else text


@functools.lru_cache(maxsize=4096)
def name(text: str) -> str:
    """A person's name for `**Name**`: nothing in it may end the bold or open a link."""
    cleaned = re.sub(r"[*_`\[\]<>\\|]", "", neutralise(" ".join(text.split())))
    return cleaned or "someone"


def outline(text: str) -> list[tuple[int, str]]:
    """Someone's multi-line text as (depth, line) pairs: the first line at 0, later lines nested.

    A later line indented further, or written as a sub-bullet, nests one level deeper than the
    lines around it, so a reply pasted from a notes document keeps its shape.
    """
    if "\n" not in text:  # the common case: one line
        return [(0, inline(_BULLET.sub(r"\1", text)))] if text.strip() else []
    lines = [line for line in text.replace("\r", "").split("\n") if line.strip()]
    if not lines:
        return []
    result = [(0, inline(_BULLET.sub(r"\1", lines[0])))]
    indents: list[int] = []
    for line in lines[1:]:
        expanded = line.expandtabs(4)
        indent = len(expanded) - len(expanded.lstrip())
        while indents and indent < indents[-1]:
            indents.pop()
        if not indents or indent > indents[-1]:
            indents.append(indent)
        depth = min(len(indents), 4)
        result.append((depth, inline(_BULLET.sub("", expanded.lstrip()))))
    return result
