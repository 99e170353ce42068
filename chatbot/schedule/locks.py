"""Who schedules: one leader among the processes sharing a database, and which workers live,
told by locks that die with their process (a file lock, a PostgreSQL advisory lock)."""

from __future__ import annotations

import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


class Locks(Protocol):
    """Leadership and liveness, held for as long as the process lives."""

    worker: str

    def lead(self) -> bool: ...

    def why_not(self) -> str: ...

    def alive(self, worker: str) -> bool: ...

    def close(self) -> None: ...


class MemoryLocks:
    """An in-memory database belongs to one process."""

    def __init__(self, worker: str) -> None:
        self.worker = worker

    def lead(self) -> bool:
        return True

    def why_not(self) -> str:
        return ""

    def alive(self, worker: str) -> bool:
        return worker == self.worker

    def close(self) -> None:
        pass


class FileLocks:
    """SQLite: a lock file beside the database. Byte 0 is the scheduler; byte 1+N is worker N.

    The kernel drops a dead process's locks, so a restart takes over at once.
    """

    def __init__(self, database: Path, worker: str) -> None:
        self.worker = worker
        self.path = Path(f"{database}.lock")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._leading = False
        fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1 + int(worker))

    def lead(self) -> bool:
        if not self._leading:
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
            except OSError:
                return False
            self._leading = True
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def why_not(self) -> str:
        holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
        return (f"another chatbot process (pid {holder}) already schedules sends for this SQLite "
                f"database ({self.path}); this one only answers commands. SQLite allows one "
                "scheduling process: stop the other one, or use PostgreSQL to run several.")

    def alive(self, worker: str) -> bool:
        if worker == self.worker:
            return True
        try:
            offset = 1 + int(worker)
        except ValueError:
            return False
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError:
            return True
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, offset)
        return False

    def close(self) -> None:
        os.close(self._fd)  # releases every lock this process holds on the file


class PgLocks:
    """PostgreSQL: session advisory locks on a dedicated connection; a process that dies loses them
    with its connection, so another takes over at its next look (every poll)."""

    def __init__(self, db: Engine, worker: str) -> None:
        self.db = db
        self.worker = worker
        self._connection = None
        self._leading = False
        self._connect()

    def _connect(self) -> None:
        self._connection = self.db.connect().execution_options(isolation_level="AUTOCOMMIT")
        # Keys live per database; the schema joins the namespace so schemas sharing one don't mix.
        where = self._connection.execute(
            text("SELECT current_database() || '/' || coalesce(current_schema(), '')")).scalar_one()
        self.namespace = zlib.crc32(where.encode()) & 0x7FFFFFFF
        if not self._try(int(self.worker)):
            raise RuntimeError(f"worker id {self.worker} is taken by a running process")

    def _try(self, key: int) -> bool:
        return bool(self._connection.execute(
            text("SELECT pg_try_advisory_lock(CAST(:ns AS integer), CAST(:key AS integer))"),
            {"ns": self.namespace, "key": key}).scalar_one())

    def lead(self) -> bool:
        try:
            if self._connection is None:
                self._connect()
            if self._leading:
                self._connection.execute(text("SELECT 1"))
            else:
                self._leading = self._try(0)
            return self._leading
        except Exception as error:  # the connection broke: locks are gone with it
            log.warning("lost the database connection that holds the scheduler lock: %s", error)
            self._drop()
            return False

    def why_not(self) -> str:
        return "another process leads the schedule; this one delivers and answers commands"

    def alive(self, worker: str) -> bool:
        if worker == self.worker:
            return True
        try:
            key = int(worker)
        except ValueError:
            return False
        held = self._connection.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = CAST(:ns AS bigint) AND objid = CAST(:key AS bigint) AND objsubid = 2"),
            {"ns": self.namespace, "key": key}).scalar_one()
        return bool(held)

    def _drop(self) -> None:
        self._leading = False
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # already broken
                pass
        self._connection = None

    def close(self) -> None:
        self._drop()


def locks_for(db: Engine, worker: str) -> Locks:
    """Advisory locks on PostgreSQL, a lock file beside a SQLite file, none for memory."""
    if db.dialect.name == "postgresql":
        return PgLocks(db, worker)
    database = make_url(db.url).database
    if not database or database == ":memory:":
        return MemoryLocks(worker)
    return FileLocks(Path(database).resolve(), worker)
