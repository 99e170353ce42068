"""One pace per platform for every process sharing the database: each post takes a slot, and the
slots are kept in the database so that two processes never use the same one."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

from chatbot.storage.models import KeyValue
from chatbot.storage.store import insert_for, writing

# A row is claimed only once its pace lets it go out this many seconds from now: a claimed row is
# held by its process, so a channel that must wait leaves its rows to whoever can send them first.
LOOKAHEAD = 1.0
# A post that would leave later than this after its slot (it took long to get ready) takes a fresh
# one: another process may already hold the slot after it.
LATE = 0.005


@dataclass(frozen=True)
class Pace:
    """How fast a platform accepts posts: per channel and for the whole bot, with bursts."""

    per_channel: float  # messages per second in one channel
    overall: float  # messages per second across all channels
    channel_burst: int = 1
    overall_burst: int = 1


# Slack: chat.postMessage allows about one message per second per channel. Discord: 5 messages per
# 5 s per channel and 50 requests per second per bot. Sending at these rates, rather than as fast as
# possible and backing off on 429, is what keeps a fanout of hundreds of channels at the bound.
PACES: dict[str, Pace] = {
    "slack": Pace(per_channel=1.0, overall=50.0),
    "discord": Pace(per_channel=1.0, overall=50.0, channel_burst=5),
}


class Pacer:
    """A token bucket per channel and one for the platform (under None), as reservations (GCRA).

    `slots` holds each bucket's theoretical arrival time of its next message, in seconds of the
    wall clock; a claim reads them from the database and writes them back, so every process
    sharing the database keeps to one pace. Reservations are first come first served, so posts to
    one channel keep the order they were claimed in.
    """

    def __init__(self, pace: Pace, slots: dict[str | None, float] | None = None) -> None:
        self.pace = pace
        self.slots = {} if slots is None else slots

    def reserve(self, channel: str, now: float, within: float = math.inf) -> float | None:
        """When to post to `channel`; None, reserving nothing, if later than `within` from now."""
        pace = self.pace
        channel_step, overall_step = 1 / pace.per_channel, 1 / pace.overall
        channel_at = self.slots.get(channel, now)
        overall_at = self.slots.get(None, -math.inf)
        at = max(now,
                 channel_at - (pace.channel_burst - 1) * channel_step,
                 overall_at - (pace.overall_burst - 1) * overall_step)
        if at > now + within:
            return None
        self.slots[channel] = max(channel_at, at) + channel_step
        self.slots[None] = max(overall_at, at) + overall_step
        return at


def reserve(db: Engine, platform: str, channel: str, pace: Pace,
            wall: Callable[[], float] = time.time) -> float:
    """A fresh slot for a post to `channel`, LATE from now at the earliest (time to send it)."""
    with writing(db) as session:
        pacer = Pacer(pace, lock_slots(session, platform, [channel]))
        at = pacer.reserve(channel, wall() + LATE)
        store_slots(session, platform, pacer.slots)
        return at


def _slot_key(platform: str, channel: str | None) -> str:
    return f"pace:{platform}" if channel is None else f"pace:{platform}:{channel}"


def lock_slots(session: Session, platform: str, channels: Collection[str]) -> dict[str | None, float]:
    """The pace slots of the platform and these channels, locked until the transaction ends.

    Locked in key order (rows made first when new), so two claims cannot deadlock on them."""
    keys = {_slot_key(platform, c): c for c in [None, *channels]}
    ordered = sorted(keys)
    session.exec(insert_for(session)(KeyValue)
                 .values([{"key": key, "value": "-inf"} for key in ordered])
                 .on_conflict_do_nothing())
    found = session.exec(select(KeyValue.key, KeyValue.value).where(KeyValue.key.in_(ordered))
                         .order_by(KeyValue.key).with_for_update())
    return {keys[key]: float(value) for key, value in found}


def store_slots(session: Session, platform: str, slots: Mapping[str | None, float]) -> None:
    """Write back the slots a Pacer reserved from, in the transaction that locked them."""
    insert = insert_for(session)(KeyValue).values(
        [{"key": _slot_key(platform, c), "value": repr(at)} for c, at in slots.items()])
    session.exec(insert.on_conflict_do_update(index_elements=["key"],
                                              set_={"value": insert.excluded.value}))
