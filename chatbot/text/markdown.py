"""Making people's text safe to place inside the bot's Markdown: no pings, no broken structure."""

from __future__ import annotations

import functools
import re

ZWSP = "\u200b"
# Slack's special mentions (<!channel>, <!here|here>, <!subteam^ID>) and the plain forms people type.
_SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^<>]*)?>|<!subteam\^[^<>]*>", re.IGNORECASE)
_AT_ALL = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_BARE_URL = re.compile(r"(?<![<(\[\w])(https?://[^\s<>]*[^\s<>.,;:!?'\")\]])")
_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|>|[-+*=_](?=\s|$|[-=_*]{2,})|\d{1,9}[.)](?=\s|$)|`{3,}|~{3,}|\|)")
# `<` opens raw HTML (and our own `<time:...>` marker) only before a letter, `/`, `!` or `?`. It is
# written as an entity: Python-Markdown (MkDocs) does not honour a backslash before it.
_TAG = re.compile(r"<(?=[A-Za-z/!?@#])(?!https?://|mailto:)")
# An `&` that would start an entity, so that what people typed shows as they typed it.
_AMPERSAND = re.compile(r"&(?=#?[A-Za-z0-9]{1,32};)")
# The entities the neutral Markdown holds; each renderer shows them its own way.
ENTITY = re.compile(r"&(lt|gt|amp|quot);")
# A link is kept only to the web or to mail; every other `[` is escaped, so people's text can make
# no other link, image or link definition (`javascript:`, `[1]: ...`) in any Markdown renderer.
_LINK = re.compile(r"\[(?P<label>[^\[\]\n]*)\]\((?P<href>(?:https?://|mailto:)[^()\s<>]+)\)|\[")
# A label that reads as an address (a scheme, a www., a dotted host name): showing it over another
# address would disguise where the link goes.
_ADDRESS = re.compile(r":[\\/]{2}|\bmailto:|\bwww\.|(?<=\w)[.。．｡][^\W\d_]{2,}(?!\w)", re.IGNORECASE)
_BULLET = re.compile(r"^(\s*)(?:[-*+•]\s+)")
_BLOCK_STARTS = frozenset("#>-+*=_0123456789`~|")


def neutralise(text: str) -> str:
    """Break every whole-channel mention so that no platform turns it into a ping."""
    if "<!" in text:
        text = _SPECIAL.sub(lambda m: "@" + ZWSP + (m.group(1) or "subteam").lower(), text)
    return _AT_ALL.sub("@" + ZWSP, text) if "@" in text else text


def looks_like_address(label: str) -> bool:
    return _ADDRESS.search(label) is not None


def unmask(text: str) -> str:
    """`[label](url)` whose label reads as an address, shown as the address it really goes to."""
    return _LINK.sub(_link, text) if "[" in text else text


def _link(match: re.Match) -> str:
    label = match.group("label")
    if label is None:
        return match.group(0)
    return f"<{match.group('href')}>" if looks_like_address(label) else match.group(0)


def _web_link_only(match: re.Match) -> str:
    return "\\[" if match.group("label") is None else _link(match)


def inline(text: str) -> str:
    """One line of someone's text, made safe to follow a bullet: no block syntax, no HTML, links
    only to the web or to mail and never disguised, bare links as <url>."""
    text = neutralise(text.replace("\r", "").replace("\n", " ").strip())
    if "&" in text:
        text = _AMPERSAND.sub("&amp;", text)
    if "<" in text:
        text = _TAG.sub("&lt;", text)
    if "[" in text:
        text = _LINK.sub(_web_link_only, text)
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
