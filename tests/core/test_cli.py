"""The `chatbot` command line, run as a user runs it: a fresh directory, piped input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from icalendar import Calendar

URL = "https://github.com/jupyterhub/jupyterhub/issues/3982"


def chatbot(tmp_path, *args, stdin: str = "", env: dict | None = None):
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("CHATBOT_", "SLACK_", "DISCORD_"))}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "chatbot", *args], input=stdin, text=True,
                          capture_output=True, cwd=tmp_path, env=environment, timeout=120)


def test_piped_terminal_session_prints_the_notes(tmp_path):
    script = f"/as min\n/agenda add (~5min) JupyterHub 3.0 {URL}\n/meeting compile\n"
    result = chatbot(tmp_path, "run", stdin=script)
    assert result.returncode == 0, result.stderr
    agenda = result.stdout.split("## Agenda items", 1)[1]
    assert f"- **min** (~5min) JupyterHub 3.0 <{URL}>" in agenda
    assert "built-in example series" in result.stderr
    assert (tmp_path / "chatbot.db").exists()
    # The same database next time: the item is still there, and a profile name replaces the handle.
    again = chatbot(tmp_path, "run", stdin="/as min\n/meeting profile Min RK / Simula / @minrk\n/meeting compile\n")
    assert f"- **Min RK** (~5min) JupyterHub 3.0 <{URL}>" in again.stdout


def test_demo_runs_a_meeting_end_to_end(tmp_path):
    result = chatbot(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert "- Sarah Gibson / 2i2c / @sgibson91" in result.stdout
    assert "- **Min RK** (~5min) JupyterHub 3.0" in result.stdout
    assert "    - Action: **Min RK** Add changelog entries" in result.stdout
    assert "✗" not in result.stdout


def test_notes_and_archive_commands(tmp_path):
    chatbot(tmp_path, "run", stdin="/as min\n/agenda add (~5min) Item one\n")
    notes = chatbot(tmp_path, "notes", "hubs")
    assert notes.returncode == 0 and "- **min** (~5min) Item one" in notes.stdout
    archived = chatbot(tmp_path, "archive", "hubs", "--dir", "docs/meetings")
    assert archived.returncode == 0, archived.stderr
    [page] = (tmp_path / "docs/meetings/hubs").glob("20*.md")
    assert "Item one" in page.read_text()
    assert f"- [{page.stem}]({page.name})" in (tmp_path / "docs/meetings/hubs/index.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["notes", "nope"], "nope"),
    (["notes", "hubs", "--date", "July"], "--date 'July' is not a date; write it as YYYY-MM-DD"),
    (["notes", "hubs", "--date", "2022-07-20"], "has no meeting on 2022-07-20"),
    (["calendar", "nope"], "nope"),
])
def test_unknown_series_and_dates_are_named(tmp_path, args, message):
    result = chatbot(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_calendar_writes_twelve_occurrences(tmp_path):
    result = chatbot(tmp_path, "calendar", "hubs", "--out", "hubs.ics")
    assert result.returncode == 0, result.stderr
    events = Calendar.from_ical((tmp_path / "hubs.ics").read_bytes()).walk("VEVENT")
    assert len(events) == 12


def test_a_wrong_config_fails_at_start_naming_the_line(tmp_path):
    (tmp_path / "meetings.toml").write_text(
        '[[series]]\nid = "x"\nname = "X"\nschedule = "every 3rd tuesday"\ntime = "17:00"\n'
        'timezone = "Europe/Londn"\n')
    result = chatbot(tmp_path, "run", stdin="")
    assert result.returncode == 2
    assert "meetings.toml:6" in result.stderr and "Europe/London" in result.stderr
    (tmp_path / "meetings.toml").write_text(
        '[[series]]\nid = "x"\nname = "X"\nschedule = "FREQ=SOMETIMES"\ntime = "17:00"\ncolour = 1\n')
    result = chatbot(tmp_path, "run", stdin="")
    assert result.returncode == 2 and "meetings.toml:" in result.stderr


def test_settings_errors_name_the_variable(tmp_path):
    result = chatbot(tmp_path, "run", env={"SLACK_APP_TOKEN": "xapp-1-secret"})
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is missing" in result.stderr
    assert "xapp-1-secret" not in result.stderr + result.stdout


def test_db_upgrade(tmp_path):
    result = chatbot(tmp_path, "db", "upgrade", env={"CHATBOT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 0 and "up to date" in result.stdout
