"""Benchmark: how long `chatbot --help` and a terminal bot take to start, against bare Python.

    python bench/startup.py [--rounds 7]

Each side runs in its own process, once per round, in a rotating order so that a busy machine
slows every side alike; the medians are compared with `python -c pass` and with a bare
`python -c "import slack_bolt, discord"` measured in the same run. The terminal bot runs on a
pseudo-terminal, as a person starts it, and counts as ready when it greets them: from then on
it reads commands. A last, untimed pass lists any platform SDK the two commands loaded.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READY = b"Ctrl-D quits."  # the end of the terminal bot's greeting
SDKS = ("slack_bolt", "slack_sdk", "discord", "aiohttp")
TARGETS = {"chatbot --help": 0.5, "terminal bot ready": 1.0}  # seconds over bare Python


def chatbot_command() -> list[str]:
    """The installed `chatbot` script, as a user runs it; else the package as a module."""
    script = Path(sys.executable).with_name("chatbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "chatbot"]


def environment(folder: Path, **extra: str) -> dict[str, str]:
    """No platform credentials (so the terminal adapter runs), a database of the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "SLACK_", "DISCORD_"))}
    env.update(CHATBOT_DATABASE_URL=f"sqlite:///{folder / 'bench.db'}",
               CHATBOT_CONFIG=str(folder / "meetings.toml"), CHATBOT_ARCHIVE_DIR=str(folder / "archive"),
               **extra)
    return env


def time_command(command: list[str], folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, env=environment(folder), stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def time_terminal_bot(folder: Path, **extra: str) -> tuple[float, str]:
    """Seconds until the bot on a pseudo-terminal greets; then Ctrl-D ends it. Its log too."""
    controller, terminal = pty.openpty()
    log = folder / "bot.log"
    with open(log, "wb") as errors:
        start = time.perf_counter()
        process = subprocess.Popen([*chatbot_command(), "run"], cwd=folder, env=environment(folder, **extra),
                                   stdin=terminal, stdout=terminal, stderr=errors)
        os.close(terminal)
        seen = b""
        try:
            while READY not in seen:
                readable, _, _ = select.select([controller], [], [], 60)
                chunk = os.read(controller, 4096) if readable else b""
                if not chunk:
                    raise SystemExit(f"the terminal bot did not get ready:\n{seen.decode()}\n{log.read_text()}")
                seen += chunk
            ready = time.perf_counter() - start
            os.write(controller, b"\x04")
            while process.poll() is None:  # the bot waits until its output has been read
                if select.select([controller], [], [], 0.1)[0]:
                    try:
                        os.read(controller, 4096)
                    except OSError:  # the bot closed its end
                        break
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            os.close(controller)
    return ready, log.read_text()


def sdks_loaded(folder: Path) -> dict[str, list[str]]:
    """Which platform SDK modules each command imported (Python's own import log, untimed)."""
    def top_level(log: str) -> list[str]:
        names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in log.splitlines()
                 if line.startswith("import time:")}
        return sorted(names & set(SDKS))

    help_log = subprocess.run([*chatbot_command(), "--help"], cwd=folder, stdin=subprocess.DEVNULL,
                              env=environment(folder, PYTHONPROFILEIMPORTTIME="1"),
                              capture_output=True, text=True, check=True).stderr
    _, bot_log = time_terminal_bot(folder, PYTHONPROFILEIMPORTTIME="1")
    return {"chatbot --help": top_level(help_log), "terminal bot ready": top_level(bot_log)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sides = {
            "python -c pass": lambda: time_command([sys.executable, "-c", "pass"], folder),
            "import slack_bolt, discord": lambda: time_command(
                [sys.executable, "-c", "import slack_bolt, discord"], folder),
            "chatbot --help": lambda: time_command([*chatbot_command(), "--help"], folder),
            "terminal bot ready": lambda: time_terminal_bot(folder)[0],
        }
        for measure in sides.values():  # warm the file cache; the bot creates its database
            measure()
        samples: dict[str, list[float]] = {side: [] for side in sides}
        order = list(sides)
        for round_ in range(args.rounds):
            for side in order[round_ % len(order):] + order[:round_ % len(order)]:
                samples[side].append(sides[side]())
        loaded = sdks_loaded(folder)

    median = {side: statistics.median(values) for side, values in samples.items()}
    bare, sdk = median["python -c pass"], median["import slack_bolt, discord"]
    print(f"start-up, median of {args.rounds} rounds, each side in its own process, wall time "
          f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.2f})")
    for side, seconds in median.items():
        print(f"  {side:28} {seconds * 1000:7.0f} ms   {seconds / bare:6.1f}x bare Python   "
              f"{seconds / sdk:5.2f}x the SDK import   +{(seconds - bare) * 1000:5.0f} ms")
    for side, allowed in TARGETS.items():
        over = median[side] - bare
        verdict = "met" if over <= allowed else "NOT met"
        print(f"  target {side}: within {allowed:.1f} s of bare Python: +{over:.2f} s, {verdict}")
    for side, modules in loaded.items():
        print(f"  platform SDKs loaded by {side}: {', '.join(modules) or 'none'}")


if __name__ == "__main__":
    main()
