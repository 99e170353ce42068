"""Neutral Markdown to Slack mrkdwn, and posts cut into messages and blocks within Slack's limits.

Pure functions. Every text passes through `neutralise` first, so no whole-channel ping survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatbot.events import Post, SendKind
from chatbot.text.markdown import ENTITY, looks_like_address, neutralise
from chatbot.text.split import split

# Slack documents 3,000 characters per section, 50 blocks and 40,000 characters of text, but has
# refused messages well below the documented totals (msg_blocks_too_long), so stay clear of them.
SECTION_CHARS = 2_900
MAX_BLOCKS = 45
MESSAGE_BLOCK_CHARS = 11_000
MESSAGE_TEXT_CHARS = 35_000
FALLBACK_CHARS = 2_900

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+)$", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.MULTILINE)
_INLINE = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|\\(?P<escaped>[!-/:-@\[-`{-~])"
    r"|<time:(?P<unix>\d+)\|(?P<fallback>[^<>\n]*)>"
    r"|<(?P<channel>#[CGD][A-Z0-9]+(?:\|[^<>\n]*)?)>"
    r"|<(?P<user>@[UW][A-Z0-9]+)>"
    r"|<(?P<url>(?:https?|mailto):[^<>\s]+)>"
    r"|\[(?P<label>[^\[\]\n]+)\]\((?P<href>(?:https?|mailto):[^()\s]+)\)"
    r"|(?P<bold>\*\*)"
    r"|(?P<strike>~~)"
    r"|&(?P<entity>lt|gt|amp|quot);"
    r"|(?P<special>[&<>])"
)
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _label(text: str) -> str:
    """Text inside `<url|label>` or a date fallback: no `|` or `>` may end it early."""
    return escape(text.replace("**", "").replace("|", "/"))


_KINDS = ("code", "escaped", "unix", "channel", "user", "url", "label", "bold", "strike", "entity", "special")
_SHOWN = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _shown(text: str) -> str:
    """The neutral Markdown's entities as the characters they stand for."""
    return ENTITY.sub(lambda m: _SHOWN[m.group(1)], text) if "&" in text else text


def _inline(match: re.Match) -> str:
    kind = next(k for k in _KINDS if match.group(k) is not None)
    if kind == "code":
        return escape(_shown(match.group("code")))
    if kind == "escaped":
        return escape(match.group("escaped"))
    if kind == "unix":
        return f"<!date^{match.group('unix')}^{{date_long}} {{time}}|{_label(match.group('fallback'))}>"
    if kind in ("channel", "user"):
        return f"<{match.group(kind)}>"
    if kind == "url":
        return f"<{escape(match.group('url'))}>"
    if kind == "label":
        if looks_like_address(match.group("label")):
            return f"<{escape(match.group('href'))}>"  # a label that reads as another address
        return f"<{escape(match.group('href'))}|{_label(_shown(match.group('label')))}>"
    if kind == "bold":
        return "*"
    if kind == "strike":
        return "~"
    if kind == "entity":
        return escape(_SHOWN[match.group("entity")])
    return _ENTITIES[match.group("special")]


def _title(heading: str) -> str:
    """A heading's words without its closing `#`s (stripped here: a pattern for them backtracks)."""
    return heading.rstrip(" \t#") or heading[:1]


def _prose(text: str) -> str:
    text = _HEADING.sub(lambda m: "**" + _title(m.group(1)).replace("**", "") + "**", text)
    text = _BULLET.sub(lambda m: m.group(1) + "• ", text)
    return _INLINE.sub(_inline, text)


def mrkdwn(text: str) -> str:
    """Neutral Markdown as Slack mrkdwn: `**b**` as `*b*`, `[l](u)` as `<u|l>`, times in the
    reader's zone, headings as bold lines, and every other `&`, `<`, `>` escaped."""
    text = neutralise(text.replace("\r", ""))
    out, position = [], 0
    for fence in _FENCE.finditer(text):
        out.append(_prose(text[position:fence.start()]))
        out.append(escape(fence.group(0)))
        position = fence.end()
    out.append(_prose(text[position:]))
    return "".join(out)


@dataclass(frozen=True)
class Message:
    """One chat.postMessage / chat.update worth of content."""

    text: str
    blocks: tuple[dict, ...] | None = None


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def block_messages(text: str) -> list[Message]:
    """Rendered mrkdwn as messages of section blocks, each message well inside Slack's limits."""
    messages: list[Message] = []
    blocks: list[dict] = []
    size = 0
    for piece in split(text, SECTION_CHARS) or [" "]:
        if blocks and (len(blocks) >= MAX_BLOCKS or size + len(piece) > MESSAGE_BLOCK_CHARS):
            messages.append(_with_fallback(blocks))
            blocks, size = [], 0
        blocks.append(_section(piece))
        size += len(piece)
    messages.append(_with_fallback(blocks))
    return messages


def _with_fallback(blocks: list[dict]) -> Message:
    """The top-level text shown in notifications: the start of the blocks' text."""
    text = "\n".join(b["text"]["text"] for b in blocks)
    if len(text) > FALLBACK_CHARS:
        text = split(text, FALLBACK_CHARS - 1)[0] + "…"
    return Message(text, tuple(blocks))


def text_messages(text: str) -> list[Message]:
    return [Message(piece) for piece in split(text, MESSAGE_TEXT_CHARS) or [" "]]


def render(post: Post) -> list[Message]:
    """A post as the Slack messages that carry it: the first is the post, the rest its parts.

    The digest is section blocks (it can be long and carries structure); every other post is
    plain mrkdwn text.
    """
    text = mrkdwn(post.text)
    if post.kind == SendKind.DIGEST:
        return block_messages(text)
    return text_messages(text)
