"""Start-up stays light: `chatbot --help` and a terminal bot load no platform SDK, and help loads
no database layer; a start on an up-to-date database does not load Alembic."""

from __future__ import annotations

import os
import subprocess
import sys

SDKS = {"slack_bolt", "slack_sdk", "discord", "aiohttp"}


def imported(tmp_path, *args: str, stdin: str = "") -> set[str]:
    """The top-level packages a `chatbot` command imported, from Python's own import log."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("CHATBOT_", "SLACK_", "DISCORD_"))}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "chatbot", *args],
                            input=stdin, text=True, capture_output=True, cwd=tmp_path,
                            env=environment, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
            if line.startswith("import time:")}


def test_help_loads_no_platform_sdk_and_no_database(tmp_path):
    modules = imported(tmp_path, "--help")
    assert "typer" in modules  # the log was read
    assert modules & (SDKS | {"sqlalchemy", "sqlmodel", "alembic", "apscheduler"}) == set()


def test_a_terminal_bot_loads_no_platform_sdk_and_at_head_no_alembic(tmp_path):
    first = imported(tmp_path, "run", stdin="/meeting\n")
    assert "sqlalchemy" in first and "alembic" in first  # a new database: migrated
    again = imported(tmp_path, "run", stdin="/meeting\n")
    assert "sqlalchemy" in again
    assert again & (SDKS | {"alembic"}) == set()
