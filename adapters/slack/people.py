"""Slack display names from users.info, cached: translation needs them, and a slow look-up is skipped."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

NAME_TIMEOUT = 1.0


class People:
    """Display names from users.info, cached for an hour; a slow or failed look-up is skipped."""

    def __init__(self, client: AsyncWebClient, *, size: int = 4096, ttl: float = 3600.0) -> None:
        self.client = client
        self.size = size
        self.ttl = ttl
        self._names: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._pending: dict[str, asyncio.Future] = {}

    def cached(self, user_ids: Iterable[str]) -> dict[str, str]:
        now = time.monotonic()
        return {u: found[1] for u in user_ids if (found := self._names.get(u)) is not None and found[0] > now}

    async def names(self, user_ids: Iterable[str], timeout: float = NAME_TIMEOUT) -> dict[str, str]:
        names = self.cached(user_ids)
        missing = [u for u in dict.fromkeys(user_ids) if u and u not in names]
        if missing:
            found = await asyncio.gather(*(self.name(u, timeout) for u in missing))
            names.update((u, n) for u, n in zip(missing, found) if n)
        return names

    async def name(self, user_id: str, timeout: float = NAME_TIMEOUT) -> str | None:
        cached = self._names.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        task = self._pending.get(user_id)
        if task is None:
            task = self._pending[user_id] = asyncio.ensure_future(self._fetch(user_id))
            task.add_done_callback(lambda _: self._pending.pop(user_id, None))
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return None

    async def _fetch(self, user_id: str) -> str | None:
        try:
            user = (await self.client.users_info(user=user_id))["user"]
        except Exception as error:  # an unknown user or Slack unavailable: go without the name
            log.info("users.info %s failed: %s", user_id, error)
            return None
        profile = user.get("profile") or {}
        name = (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
                or user.get("name") or "")
        if name:
            self._names[user_id] = (time.monotonic() + self.ttl, name)
            self._names.move_to_end(user_id)
            while len(self._names) > self.size:
                self._names.popitem(last=False)
        return name or None
