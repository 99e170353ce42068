"""Claiming platform event ids in bulk: each id is new once, across calls and within one call."""

from __future__ import annotations


def test_claim_events_in_bulk_agrees_with_one_by_one(bot):
    engine = bot.engine
    assert engine.claim_events("slack", ["Ev1", "Ev2", "Ev1"]) == [True, True, False]
    assert engine.claim_events("slack", ["Ev2", "Ev3"]) == [False, True]
    assert engine.claim_event("slack", "Ev3") is False
    assert engine.claim_events("discord", ["Ev1"]) == [True]  # ids are per platform
    assert engine.claim_events("slack", []) == []
