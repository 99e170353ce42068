"""Agenda planning: where a new item goes, and how the agenda fits the slot."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.text.durations import DEFAULT_ESTIMATE_MINUTES

URL = re.compile(r"https?://[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]")
_WORD = re.compile(r"[a-z0-9][a-z0-9.+#-]*[a-z0-9+#]|[a-z0-9]")
_STOPWORDS = frozenset(
    """a about after again all also an and any are as at be because been before being between
    both but by can could did do does doing for from further had has have having how i if in
    into is it its just me more most my no nor not now of on once only or other our out over own
    question quick same should so some such than that the their them then there these they this
    those through to too under until up update very was we were what when where which while who
    why will with would you your item items discuss discussion talk short brief new""".split()
)


@dataclass(frozen=True)
class ItemFacts:
    """What planning needs to know of an agenda item."""

    id: int
    title: str
    links: tuple[str, ...]
    minutes: int | None
    optional: bool


@dataclass(frozen=True)
class Plan:
    slot_minutes: int
    chair_minutes: int
    total_minutes: int  # estimated items, plus the default for items without one
    unestimated: tuple[int, ...]  # numbers (1-based) of items counted at the default

    @property
    def available_minutes(self) -> int:
        return self.slot_minutes - self.chair_minutes

    @property
    def overbooked_by(self) -> int:
        return max(0, self.total_minutes - self.available_minutes)


def links_in(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(URL.findall(text)))


def significant_words(title: str) -> frozenset[str]:
    text = URL.sub(" ", title.lower())
    return frozenset(w for w in _WORD.findall(text) if w not in _STOPWORDS and len(w) > 2)


def similar(a: ItemFacts, b: ItemFacts) -> bool:
    """Items that share a link, or two significant words, belong together."""
    if set(a.links) & set(b.links):
        return True
    return len(significant_words(a.title) & significant_words(b.title)) >= 2


def insertion_index(ordered: Sequence[ItemFacts], new: ItemFacts) -> tuple[int, ItemFacts | None]:
    """Where a new item goes: after the last item it is similar to, else before the optional ones.

    Returns the index and the item it was grouped with, if any.
    """
    for index in range(len(ordered) - 1, -1, -1):
        if similar(ordered[index], new) and (new.optional or not ordered[index].optional):
            return index + 1, ordered[index]
    if new.optional:
        return len(ordered), None
    first_optional = next((i for i, item in enumerate(ordered) if item.optional), len(ordered))
    return first_optional, None


def plan(items: Sequence[ItemFacts], *, slot_minutes: int, chair_minutes: int) -> Plan:
    total = sum(DEFAULT_ESTIMATE_MINUTES if item.minutes is None else item.minutes for item in items)
    unestimated = tuple(n for n, item in enumerate(items, 1) if item.minutes is None)
    return Plan(slot_minutes, chair_minutes, total, unestimated)
