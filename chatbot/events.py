"""The core's vocabulary: normalised incoming events and outgoing messages, as frozen values.

Adapters translate platform payloads into these and render these back; nothing platform-shaped
crosses into the core. Mentions inside command text are written `<@user_id>`; times meant to be
shown in each reader's zone are written `<time:UNIX|fallback>` and rendered by the adapter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

TERMINAL = "terminal"
SLACK = "slack"
DISCORD = "discord"
PLATFORMS = (TERMINAL, SLACK, DISCORD)
MAX_NAME = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # no line breaks or tabs in a name either


@dataclass(frozen=True)
class Actor:
    """Someone on a platform, as that platform names them."""

    platform: str
    user_id: str
    name: str = ""  # the platform's display name, when the adapter knows it

    def __post_init__(self) -> None:
        # Without a user id every such request would share one identity: `slack:`.
        if not isinstance(self.user_id, str) or not self.user_id.strip():
            raise ValueError(f"an actor on {self.platform} needs a user id")
        # Platforms allow odd names; storage refuses NUL and the notes want a readable length.
        object.__setattr__(self, "name", _CONTROL.sub("", self.name)[:MAX_NAME])

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Place:
    """Where an event happened: a channel, and the thread's root message when in a thread."""

    platform: str
    channel: str
    thread: str | None = None


@dataclass(frozen=True)
class CommandCall:
    """`/agenda add ...` and friends: the command word and the text after it."""

    actor: Actor
    place: Place
    command: str
    text: str
    # Display names the adapter resolved for user ids mentioned in `text`.
    users: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Reply:
    """A message in a thread the bot opened."""

    actor: Actor
    place: Place
    message_id: str
    text: str


@dataclass(frozen=True)
class ReplyEdited:
    place: Place
    message_id: str
    text: str
    actor: Actor | None = None


@dataclass(frozen=True)
class ReplyDeleted:
    place: Place
    message_id: str


Event = CommandCall | Reply | ReplyEdited | ReplyDeleted


@dataclass(frozen=True)
class Answer:
    """What the person who caused an event is told (ephemeral where the platform allows)."""

    text: str
    ok: bool = True
    public: bool = False  # shown to the channel, not just the caller


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: str


class SendKind(StrEnum):
    """What an outbox row posts, or does (compile, finish). A reminder's kind carries its offset
    ("reminder:1d") and an agenda item's post its item ("agenda:12"): `of` writes such a kind."""

    ANNOUNCEMENT = "announcement"
    CALL_FOR_UPDATES = "call_for_updates"
    REMINDER = "reminder"
    NOTICE = "notice"
    LATE_NOTICE = "late_notice"
    DIGEST = "digest"
    AGENDA = "agenda"
    COMPILE = "compile"
    FINISH = "finish"

    @property
    def prefix(self) -> str:
        return f"{self}:"

    def of(self, detail: object) -> str:
        return f"{self.prefix}{detail}"


def agenda_item_of(kind: str) -> int | None:
    """The agenda item whose thread a post of this kind opens, else None."""
    prefix = SendKind.AGENDA.prefix
    return int(kind[len(prefix):]) if kind.startswith(prefix) else None


@dataclass(frozen=True)
class Post:
    """A message the bot posts to a channel, from the outbox; `key` is stable across retries."""

    key: str
    kind: str  # a SendKind, with its detail for reminders and agenda items
    platform: str
    channel: str
    text: str
    thread_of: str | None = None  # platform id of the message to reply under
    opens_thread: str | None = None  # a thread title: people reply under this post
    attachment: Attachment | None = None
    edit_of: str | None = None  # platform id of an earlier post to replace in place
    extra_ids: tuple[str, ...] = ()  # further message ids of an earlier post split in parts
    maybe_sent: bool = False  # an earlier attempt may have posted it: look before posting again


@dataclass(frozen=True)
class Delivered:
    message_id: str
    extra_ids: tuple[str, ...] = ()  # when a long post went out as several messages

