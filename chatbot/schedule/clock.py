"""Time as the scheduler reads it: a test clock that runs fast, and real seconds until an instant."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

log = logging.getLogger(__name__)


class ScaledClock:
    """Test-only time that reads `start` at the Unix time `origin` and runs `speed` times as fast.

    Without an origin the clock starts when first read (when the scheduler starts), and says so
    in the log. Restarted processes given the same three values share one timeline.
    """

    def __init__(self, start: datetime, speed: float = 1.0, origin: float | None = None) -> None:
        self.start = start
        self.speed = speed
        self.origin = origin
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        if self.origin is None:
            with self._lock:
                if self.origin is None:
                    self.origin = time.time()
                    log.info("test clock: %s at Unix time %r, running %sx", self.start.isoformat(),
                             self.origin, self.speed)
        return self.start + timedelta(seconds=(time.time() - self.origin) * self.speed)


def real_seconds(clock: Callable[[], datetime], until: datetime) -> float:
    """Real seconds until the clock reads `until` (negative when it is past)."""
    return (until - clock()).total_seconds() / getattr(clock, "speed", 1.0)
