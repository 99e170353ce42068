"""The notes archive: `<dir>/<series>/YYYY-MM-DD.md` and an index with the newest first."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

_DATED = re.compile(r"^(\d{4}-\d{2}-\d{2})\.md$")


def write(directory: Path, series_id: str, day: date, notes: str) -> Path:
    folder = Path(directory) / series_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day:%Y-%m-%d}.md"
    _atomic_write(path, notes)
    _write_index(folder, series_id)
    return path


def _write_index(folder: Path, series_id: str) -> None:
    days = sorted((m.group(1) for p in folder.iterdir() if (m := _DATED.match(p.name))), reverse=True)
    lines = [f"# {series_id} meeting notes", ""] + [f"- [{d}]({d}.md)" for d in days]
    _atomic_write(folder / "index.md", "\n".join(lines) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
