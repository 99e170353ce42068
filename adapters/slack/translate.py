"""Slack payloads to core events: slash command forms and message events, with Slack's escaping undone.

Pure functions. Display names come in as a mapping the handler resolved beforehand, so nothing
here talks to Slack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from chatbot import commands
from chatbot.events import SLACK, Actor, CommandCall, Event, Place, Reply, ReplyDeleted, ReplyEdited

# Everything Slack writes between < and > in message and escaped command text.
_TOKEN = re.compile(r"<([^<>\n]*)>")
_USER_ID = re.compile(r"[UW][A-Z0-9]+")
# Message subtypes that are a person writing in a thread; every other subtype is housekeeping.
_PERSON_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})
_NO_NAMES: Mapping[str, str] = MappingProxyType({})


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_ids(text: str) -> list[str]:
    """User ids mentioned in Slack wire text, in order, without repeats."""
    found = []
    for match in _TOKEN.finditer(text or ""):
        target = match.group(1).partition("|")[0]
        if target.startswith("@") and _USER_ID.fullmatch(target[1:]) and target[1:] not in found:
            found.append(target[1:])
    return found


def _token(inner: str, names: Mapping[str, str], *, keep_mention: bool) -> str:
    """One `<...>` token as neutral Markdown; mentions as `<@id>` or `@Name`."""
    target, bar, label = inner.partition("|")
    label = unescape(label)
    if target.startswith("@") and _USER_ID.fullmatch(target[1:]):
        if keep_mention:
            return f"<{target}>"
        return "@" + (label or names.get(target[1:]) or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        word = target[1:].split("^", 1)[0]
        if word in ("channel", "here", "everyone"):
            return "@" + word  # the core neutralises it wherever it is posted
        if word == "subteam":
            return label if label.startswith("@") else "@" + (label or "group")
        return label or ""  # <!date^...|fallback> and the like
    url = unescape(target)
    if url.startswith(("http://", "https://")):
        if not label or label in (url, url.split("://", 1)[1]):
            return url
        return f"[{label}]({url})"
    if url.startswith("mailto:"):
        return label or url[len("mailto:"):]
    return unescape(f"<{inner}>")  # not a Slack construct: text that happened to hold < and >


def _convert(text: str, names: Mapping[str, str], keep: set[int] = frozenset()) -> str:
    """Slack wire text to plain text; mentions at the given match indexes stay `<@id>`."""
    out, position = [], 0
    for index, match in enumerate(_TOKEN.finditer(text)):
        out.append(unescape(text[position:match.start()]))
        out.append(_token(match.group(1), names, keep_mention=index in keep))
        position = match.end()
    out.append(unescape(text[position:]))
    return "".join(out)


def free_text(text: str, names: Mapping[str, str] = _NO_NAMES) -> str:
    """A message's wire text as people read it: `<@U1>` as `@Name`, links as Markdown."""
    return _convert(text or "", names)


def _mention_slot(group: str, text: str) -> int | None:
    """The index of the token that fills the command's user parameter, if the text has one.

    The table says which commands take a person first (`/meeting chair @user`,
    `/agenda add [for @user] ...`); any other mention is part of the person's text.
    """
    word, _, rest = text.partition(" ")
    command = commands.lookup(group, word.lower())
    if command is None or not command.params or command.params[0].kind != "user":
        return None
    rest = rest.lstrip()
    if not command.params[0].required:
        match = re.match(r"for\s+", rest, re.IGNORECASE)
        if match is None:
            return None
        rest = rest[match.end():]
    if not rest.startswith("<@"):
        return None
    offset = len(text) - len(rest)
    for index, match in enumerate(_TOKEN.finditer(text)):
        if match.start() == offset:
            return index
    return None


def command_text(group: str, text: str, names: Mapping[str, str] = _NO_NAMES) -> tuple[str, dict[str, str]]:
    """Escaped slash command text as the core grammar reads it, and the names of people it names."""
    text = (text or "").strip()
    slot = _mention_slot(group, text)
    users: dict[str, str] = {}
    if slot is not None:
        match = list(_TOKEN.finditer(text))[slot]
        target, _, label = match.group(1).partition("|")
        user_id = target[1:]
        users[user_id] = names.get(user_id) or unescape(label) or user_id
    return _convert(text, names, {slot} if slot is not None else set()).strip(), users


def command_to_event(form: Mapping[str, str], names: Mapping[str, str] = _NO_NAMES) -> CommandCall:
    """A slash command form (`command`, `text`, `user_id`, `channel_id`, ...) as a CommandCall."""
    group = str(form.get("command", "")).lstrip("/").lower()
    user_id = form.get("user_id")
    if not is_user_id(user_id):
        raise commands.UsageError("This command came without a Slack user, so nothing was changed: "
                                  "commands are taken from people only.")
    text, users = command_text(group, str(form.get("text", "")), names)
    name = names.get(user_id) or str(form.get("user_name", ""))
    return CommandCall(actor=Actor(SLACK, user_id, name),
                       place=Place(SLACK, str(form.get("channel_id", ""))),
                       command=group, text=text, users=MappingProxyType(users))


def is_user_id(value) -> bool:
    return isinstance(value, str) and _USER_ID.fullmatch(value) is not None


def _from_person(message: Mapping) -> bool:
    return (is_user_id(message.get("user")) and not message.get("bot_id")
            and message.get("subtype") != "bot_message")


def _thread_of(message: Mapping) -> str | None:
    """The thread a message replies in; None for a top-level message or a thread's parent."""
    thread = message.get("thread_ts")
    return thread if thread and thread != message.get("ts") else None


def message_kind(event: Mapping) -> type[Event] | None:
    """Which core event a `message` event becomes: known before any name is looked up, so that
    names are fetched only for what the core will get. None when it is not a person writing in a
    thread (bots, top-level messages, joins and other housekeeping)."""
    subtype = event.get("subtype")
    if subtype == "message_changed":
        message = event.get("message") or {}
        if not _thread_of(message) or not _from_person(message):
            return None
        before = (event.get("previous_message") or {}).get("text")
        if before is not None and before == message.get("text"):
            return None  # an unfurl or a reply count changed, not the words
        return ReplyEdited
    if subtype == "message_deleted":
        previous = event.get("previous_message") or {}
        if previous.get("bot_id") or previous.get("subtype") == "bot_message":
            return None
        return None if previous and not _thread_of(previous) else ReplyDeleted
    return Reply if _is_reply(event) else None


def message_to_event(event: Mapping, names: Mapping[str, str] = _NO_NAMES) -> Event | None:
    """A `message` event as a Reply, ReplyEdited or ReplyDeleted (see `message_kind`)."""
    channel = str(event.get("channel", ""))
    kind = message_kind(event)
    if kind is ReplyEdited:
        message = event["message"]
        user = str(message["user"])
        return ReplyEdited(place=Place(SLACK, channel, _thread_of(message)), message_id=str(message["ts"]),
                           text=free_text(message.get("text", ""), names),
                           actor=Actor(SLACK, user, names.get(user, "")))
    if kind is ReplyDeleted:
        previous = event.get("previous_message") or {}
        return ReplyDeleted(place=Place(SLACK, channel, _thread_of(previous)),
                            message_id=str(event.get("deleted_ts", "")))
    return message_to_reply(channel, event, names) if kind is Reply else None


def _is_reply(message: Mapping) -> bool:
    return (_thread_of(message) is not None and message.get("subtype") in _PERSON_SUBTYPES
            and _from_person(message))


def message_to_reply(channel: str, message: Mapping, names: Mapping[str, str] = _NO_NAMES) -> Reply | None:
    """A new message (a `message` event, or one of conversations.replies' messages) as a Reply;
    None when it is not a person writing in a thread (the thread's opening post, bots, joins)."""
    if not _is_reply(message):
        return None
    user = str(message["user"])
    return Reply(actor=Actor(SLACK, user, names.get(user, "")), place=Place(SLACK, channel, _thread_of(message)),
                 message_id=str(message["ts"]), text=free_text(message.get("text", ""), names))


def to_event(payload: Mapping, names: Mapping[str, str] = _NO_NAMES) -> Event | None:
    """A slash command form or a `message` event as a core event (None: nothing for the core)."""
    if "command" in payload:
        return command_to_event(payload, names)
    if payload.get("type") == "message":
        return message_to_event(payload, names)
    return None


def thread_parent_author(event: Mapping) -> str | None:
    """Who wrote the message a reply (or an edited or deleted reply) is threaded under."""
    if event.get("subtype") == "message_changed":
        event = event.get("message") or {}
    elif event.get("subtype") == "message_deleted":
        event = event.get("previous_message") or {}
    return event.get("parent_user_id")


def people_in(payload: Mapping) -> list[str]:
    """The user ids whose display names `to_event` can use: the author, then the mentioned."""
    if "command" in payload:
        author = [payload["user_id"]] if is_user_id(payload.get("user_id")) else []
        return list(dict.fromkeys(author + mentioned_ids(str(payload.get("text", "")))))
    message = payload.get("message") if payload.get("subtype") == "message_changed" else payload
    message = message or {}
    author = [message["user"]] if is_user_id(message.get("user")) else []
    return list(dict.fromkeys(author + mentioned_ids(str(message.get("text", "")))))
