"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.databases import postgresql_schema

# CI runs the same examples every time (a reproducible verdict); a developer's run explores anew.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
PG_URL = os.environ.get("CHATBOT_TEST_DATABASE_URL", "")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def rng() -> random.Random:
    """Random choices a failure can repeat: the seed is CHATBOT_TEST_SEED, else a new one, printed
    (pytest shows it beside a failure)."""
    seed = int(os.environ.get("CHATBOT_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"random choices from CHATBOT_TEST_SEED={seed}")
    return random.Random(seed)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2022, 7, 12, 12, 0, tzinfo=timezone.utc))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """Each test runs on a new SQLite file and, where configured, a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not PG_URL:
        pytest.skip("set CHATBOT_TEST_DATABASE_URL to run the PostgreSQL variant")
    with postgresql_schema(PG_URL) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"
