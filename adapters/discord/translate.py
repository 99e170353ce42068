"""Discord to the core and back, with no I/O: the command tree from the one command table,
interaction options as command text for the core grammar, and messages as thread events.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import discord

from chatbot.commands import COMMANDS, GROUPS, MAX_TEXT, Command, Param, UsageError, lookup
from chatbot.events import DISCORD, Actor, CommandCall, Place, Reply, ReplyDeleted, ReplyEdited
from chatbot.text.rollcall import ProfileError, github_handle

# Discord needs a subcommand where the table has a group's own action (`/meeting` alone).
GROUP_ACTION = "status"

SUB_COMMAND = discord.AppCommandOptionType.subcommand.value
STRING = discord.AppCommandOptionType.string.value
INTEGER = discord.AppCommandOptionType.integer.value
USER = discord.AppCommandOptionType.user.value
SLASH = discord.AppCommandType.chat_input.value
GUILD_ONLY = [0]  # interaction context: guilds, never DMs (a series lives in a channel)

_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
_CHANNEL_MENTION = re.compile(r"<#(\d{1,20})>")
_EMOJI = re.compile(r"<a?:(\w{1,32}):\d{1,20}>")


# -- the command tree -------------------------------------------------------------------------


def _short(text: str, limit: int = 100) -> str:
    """Discord's 100-character descriptions: whole clauses where they fit, else cut at a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    ends = [m.start() for m in re.finditer(r"[.;,](?= )", text[:limit])]
    if ends and ends[-1] >= limit // 3:
        return text[: ends[-1]] + "."
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _options(param: Param) -> list[dict]:
    if param.kind == "profile":
        return [
            {"type": STRING, "name": "name", "description": "your name as the roll call shows it",
             "required": True, "max_length": 100},
            {"type": STRING, "name": "institution", "description": "where you work or study",
             "required": False, "max_length": 100},
            {"type": STRING, "name": "github", "description": "your GitHub handle, like @minrk",
             "required": False, "max_length": 40},
        ]
    option: dict[str, Any] = {"name": param.name, "description": _short(param.description or param.name),
                              "required": param.required}
    if param.kind == "text":
        option.update(type=STRING, max_length=MAX_TEXT)
    elif param.kind == "int":
        option.update(type=INTEGER, min_value=1)
    elif param.kind == "user":
        option.update(type=USER)
    else:
        raise ValueError(f"no Discord option for a {param.kind!r} parameter")
    return [option]


def _command_options(command: Command) -> list[dict]:
    options = [o for p in command.params for o in _options(p)]
    return sorted(options, key=lambda o: not o["required"])  # Discord: required options first


def _subcommand_name(command: Command) -> str:
    return command.name or GROUP_ACTION


def command_tree() -> list[dict]:
    """The application commands, one per group of the command table, as Discord's JSON."""
    tree = []
    for group in GROUPS:
        entries = [c for c in COMMANDS if c.group == group]
        base: dict[str, Any] = {"type": SLASH, "name": group, "contexts": GUILD_ONLY,
                                "integration_types": [0]}
        if len(entries) == 1 and not entries[0].name:
            base.update(description=_short(entries[0].help), options=_command_options(entries[0]))
        else:
            names = "|".join(_subcommand_name(c) for c in entries)
            base.update(description=_short(f"/{group} {names}"), options=[
                {"type": SUB_COMMAND, "name": _subcommand_name(c), "description": _short(c.help),
                 "options": _command_options(c)}
                for c in entries
            ])
        tree.append(base)
    return tree


def tree_hash(application_id: int, tree: list[dict]) -> str:
    """Changes when the definition or the application changes: the only reasons to sync."""
    canonical = json.dumps([str(application_id), tree], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# -- interactions -----------------------------------------------------------------------------


def display_name(user: Mapping[str, Any], member: Mapping[str, Any] | None = None) -> str:
    """Guild nickname, else global name, else user name."""
    return ((member or {}).get("nick") or user.get("global_name") or user.get("username")
            or str(user.get("id", "")))


def resolved_names(data: Mapping[str, Any]) -> dict[str, str]:
    """Display names of the users an interaction's options name."""
    resolved = data.get("resolved") or {}
    members = resolved.get("members") or {}
    return {uid: display_name(user, members.get(uid)) for uid, user in (resolved.get("users") or {}).items()}


def _leaf(data: Mapping[str, Any]) -> tuple[str, list[dict]]:
    options = list(data.get("options") or [])
    if options and options[0].get("type") == SUB_COMMAND:
        return options[0]["name"], list(options[0].get("options") or [])
    return "", options


def mentioned(data: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """User, role and channel ids written as mentions inside an interaction's text options."""
    _, options = _leaf(data)
    texts = [str(o.get("value", "")) for o in options if o.get("type") == STRING]
    return tuple({i for text in texts for i in pattern.findall(text)}
                 for pattern in (_USER_MENTION, _ROLE_MENTION, _CHANNEL_MENTION))


def free_text(text: str, users: Mapping[str, str], roles: Mapping[str, str] = MappingProxyType({}),
              channels: Mapping[str, str] = MappingProxyType({})) -> str:
    """Someone's words with Discord's mention syntax read as names, for the notes."""
    if "<" not in text:
        return text
    text = _USER_MENTION.sub(lambda m: "@" + users.get(m.group(1), "someone"), text)
    text = _ROLE_MENTION.sub(lambda m: "@" + roles.get(m.group(1), "role"), text)
    text = _CHANNEL_MENTION.sub(lambda m: "#" + channels.get(m.group(1), "channel"), text)
    return _EMOJI.sub(r":\1:", text)


def to_call(data: Mapping[str, Any], *, actor: Actor, place: Place,
            names: Mapping[str, str] = MappingProxyType({}),
            roles: Mapping[str, str] = MappingProxyType({}),
            channels: Mapping[str, str] = MappingProxyType({})) -> CommandCall:
    """An application command's options as the text the core grammar reads after `/<group>`."""
    group = str(data.get("name", ""))
    name, options = _leaf(data)
    command = lookup(group, name)
    if command is None and name == GROUP_ACTION:
        command = lookup(group, "")
    if command is None:
        raise UsageError(f"/{' '.join(filter(None, (group, name)))} is not a command of this bot; "
                         "the command list may be out of date (an admin can run `chatbot discord-sync`).")
    values = {o["name"]: o.get("value") for o in options}
    users = resolved_names(data)
    known = {**names, **users}
    words: list[str] = [command.name] if command.name else []
    named: dict[str, str] = {}
    for param in command.params:
        if param.kind == "int":
            words.append(str(values.get(param.name, "")))
        elif param.kind == "user":
            uid = values.get(param.name)
            if uid is not None:
                uid = str(uid)
                named[uid] = known.get(uid, "")
                words.append(f"<@{uid}>" if param.required else f"for <@{uid}>")
        elif param.kind == "text":
            words.append(free_text(str(values.get(param.name) or ""), known, roles, channels))
        elif param.kind == "profile":
            words.append(_profile_text(values))
    return CommandCall(actor, place, group, " ".join(w for w in words if w),
                       users=MappingProxyType(named))


def _profile_text(values: Mapping[str, Any]) -> str:
    parts = [str(values.get(k) or "").strip() for k in ("name", "institution", "github")]
    for label, part in zip(("name", "institution"), parts):
        if "/" in part:
            raise UsageError(f"The {label} cannot contain '/'; write it without one.")
    if parts[2]:  # marked as a handle, so the series' roll-call order cannot take it for another part
        try:
            parts[2] = "@" + github_handle(parts[2])
        except ProfileError as error:
            raise UsageError(str(error)) from None
    while parts and not parts[-1]:
        parts.pop()
    return " / ".join(parts)


# -- messages ---------------------------------------------------------------------------------


def to_reply(*, author_id: int, author_name: str, parent_id: int | None, thread_id: int,
             message_id: int, content: str, users: Mapping[str, str] = MappingProxyType({}),
             roles: Mapping[str, str] = MappingProxyType({}),
             channels: Mapping[str, str] = MappingProxyType({})) -> Reply:
    """A message in a thread: the thread's id is the id of the bot's post it was opened from."""
    return Reply(_actor(author_id, author_name), _thread(parent_id, thread_id), str(message_id),
                 free_text(content, users, roles, channels))


# A busy thread brings the same people to the same place again and again: the values are frozen,
# so one of each serves every reply.
@functools.lru_cache(maxsize=4096)
def _actor(author_id: int, name: str) -> Actor:
    return Actor(DISCORD, str(author_id), name)


@functools.lru_cache(maxsize=1024)
def _thread(parent_id: int | None, thread_id: int) -> Place:
    return Place(DISCORD, str(parent_id or ""), str(thread_id))


def to_edit(*, author_id: int | None, author_name: str, parent_id: int | None, thread_id: int,
            message_id: int, content: str, users: Mapping[str, str] = MappingProxyType({}),
            roles: Mapping[str, str] = MappingProxyType({}),
            channels: Mapping[str, str] = MappingProxyType({})) -> ReplyEdited:
    actor = Actor(DISCORD, str(author_id), author_name) if author_id is not None else None
    return ReplyEdited(Place(DISCORD, str(parent_id or ""), str(thread_id)), str(message_id),
                       free_text(content, users, roles, channels), actor)


def edit_to_event(payload: discord.RawMessageUpdateEvent, parent_id: int | None) -> ReplyEdited | None:
    """A person's edit of their message; None when a link preview or a flag changed, not the
    words, and for bots' and webhooks' messages."""
    data = payload.data
    if "content" not in data or data.get("edited_timestamp") is None:
        return None
    message = payload.message
    if message.author.bot or message.webhook_id is not None:
        return None
    return to_edit(author_id=message.author.id, author_name=message.author.display_name,
                   parent_id=parent_id, thread_id=payload.channel_id, message_id=payload.message_id,
                   content=content(message), **mention_names(message))


def to_delete(*, parent_id: int | None, thread_id: int, message_id: int) -> ReplyDeleted:
    return ReplyDeleted(Place(DISCORD, str(parent_id or ""), str(thread_id)), str(message_id))


_PEOPLES_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)
_NO_NAMES: Mapping[int, str | None] = MappingProxyType({})


def from_a_person(message: discord.Message) -> bool:
    """Not a bot's, a webhook's or a system message."""
    return (not message.author.bot and message.webhook_id is None
            and message.type in _PEOPLES_MESSAGES)


def message_to_reply(message: discord.Message, parent_id: int | None,
                     names: Mapping[int, str | None] = _NO_NAMES) -> Reply | None:
    """A person's message in a thread; None for bots', webhooks' and system messages.
    `names` replaces the names the message carries for its author and the people it mentions
    (a message read from history has no members, so its names are not server nicknames)."""
    if not from_a_person(message):
        return None
    return to_reply(
        author_id=message.author.id, author_name=names.get(message.author.id) or message.author.display_name,
        parent_id=parent_id, thread_id=message.channel.id, message_id=message.id,
        content=content(message), **mention_names(message, names))


def content(message: discord.Message) -> str:
    """The text, with any attached files as links so that a screenshot update is kept too."""
    if not message.attachments:
        return message.content
    return "\n".join([message.content, *(a.url for a in message.attachments)]).strip()


def mention_names(message: discord.Message, names: Mapping[int, str | None] = _NO_NAMES) -> dict:
    """The names of the people, roles and channels a message mentions, for `free_text`."""
    if "<" not in message.content:
        return {}
    return dict(
        users={str(u.id): names.get(u.id) or u.display_name for u in message.mentions},
        roles={str(r.id): r.name for r in message.role_mentions},
        channels={str(c.id): c.name for c in message.channel_mentions
                  if isinstance(c, discord.abc.GuildChannel)},
    )
