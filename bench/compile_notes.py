"""Benchmark: compile a big meeting's notes from the database, against a bare string join.

    python bench/compile_notes.py [--repeat 15]

A meeting with 1,000 quick updates and 100 agenda items of 10 notes each (and the same at 10x)
is compiled from SQLite; the baseline joins the same strings with no database and no escaping.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatbot.storage import store  # noqa: E402
from chatbot.meetings.engine import MeetingEngine  # noqa: E402
from chatbot.storage.models import AgendaItem, Identity, Meeting, Note, Person, Update  # noqa: E402
from chatbot.schedule.config import parse_config  # noqa: E402

CONFIG = """
[[series]]
id = "bench"
name = "Benchmark Meeting"
schedule = "every 3rd tuesday"
time = "17:00"
"""
NOW = datetime(2022, 7, 12, tzinfo=timezone.utc)


def build(folder: Path, updates: int, items: int, notes: int):
    db = store.create_db_engine(f"sqlite:///{folder}/bench-{updates}.db")
    store.upgrade(db)
    engine = MeetingEngine(db, parse_config(CONFIG), clock=lambda: NOW)
    series = engine.config.get("bench")
    with store.session_scope(db) as session:
        meeting = engine.next_meeting(session, series)
        people = [Person(name=f"Person {n}") for n in range(updates)]
        session.add_all(people)
        session.flush()
        session.add_all(Identity(person_id=p.id, platform="terminal", user_id=f"p{p.id}") for p in people)
        session.add_all(
            Update(meeting_id=meeting.id, person_id=p.id, created_at=NOW,
                   text=f"Worked on release {n}, see https://github.com/org/repo/pull/{n} for details")
            for n, p in enumerate(people))
        agenda = [AgendaItem(meeting_id=meeting.id, presenter_id=people[n % updates].id,
                             added_by_id=people[0].id, title=f"Topic {n} https://example.org/{n}",
                             estimate_minutes=5, estimate_text="~5min", position=n, created_at=NOW)
                  for n in range(items)]
        session.add_all(agenda)
        session.flush()
        session.add_all(Note(item_id=item.id, author_id=people[k % updates].id,
                             text=f"Note {k} on {item.title}: we agreed to follow up")
                        for item in agenda for k in range(notes))
        meeting_id = meeting.id
    return engine, series, meeting_id


def compile_once(engine, series, meeting_id) -> str:
    with store.session_scope(engine.db) as session:
        return engine.render_notes(session, series, session.get(Meeting, meeting_id))


def baseline_once(updates: list[str], items: list[tuple[str, list[str]]]) -> str:
    out = [f"- **Person** {text}" for text in updates]
    for title, notes in items:
        out.append(f"- **Person** (~5min) {title}")
        out.extend(f"    - {note}" for note in notes)
    return "\n".join(out)


def timed(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(folder: Path, scale: int, repeat: int) -> tuple[float, float, int]:
    engine, series, meeting_id = build(folder, 1000 * scale, 100 * scale, 10)
    text = compile_once(engine, series, meeting_id)
    updates = [f"Worked on release {n}, see https://github.com/org/repo/pull/{n} for details"
               for n in range(1000 * scale)]
    items = [(f"Topic {n} https://example.org/{n}",
              [f"Note {k} on Topic {n}: we agreed to follow up" for k in range(10)])
             for n in range(100 * scale)]
    ours = timed(lambda: compile_once(engine, series, meeting_id), repeat)
    base = timed(lambda: baseline_once(updates, items), repeat)
    return ours, base, len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        one, base_one, size_one = measure(Path(folder), 1, args.repeat)
        ten, base_ten, size_ten = measure(Path(folder), 10, max(3, args.repeat // 3))
    print(f"1x  (1,000 updates, 100 items x 10 notes, {size_one:,} chars): "
          f"compile {one * 1000:.1f} ms, baseline join {base_one * 1000:.2f} ms, "
          f"ratio {one / base_one:.0f}x  (target: under 50 ms)")
    print(f"10x (10,000 updates, 1,000 items x 10 notes, {size_ten:,} chars): "
          f"compile {ten * 1000:.1f} ms, baseline join {base_ten * 1000:.2f} ms, "
          f"ratio {ten / base_ten:.0f}x")
    print(f"growth 1x -> 10x: compile {ten / one:.1f}x, baseline {base_ten / base_one:.1f}x "
          "(10x means linear)")


if __name__ == "__main__":
    main()
