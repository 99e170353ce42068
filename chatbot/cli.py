"""The `chatbot` command line.

Each command imports what it uses when it runs, so `--help` and a terminal bot start quickly.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer

cli = typer.Typer(help="A meeting bot for open-source community calls.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
db_cli = typer.Typer(help="Database maintenance.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")

ConfigOption = Annotated[Optional[Path], typer.Option("--config", help="meetings TOML file "
                                                      "(default: $CHATBOT_CONFIG or meetings.toml)")]


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def settings_or_exit(config: Path | None = None, **overrides):
    from chatbot.settings import SettingsError, load_settings

    if config is not None:
        overrides["config_path"] = config
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        fail(str(error))


def runtime_or_exit(settings, platforms, **options):
    from chatbot import app as composition
    from chatbot.schedule.config import ConfigError

    try:
        runtime = composition.build_runtime(settings, platforms, **options)
    except ConfigError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot read {settings.config_path}: {error.strerror}")
    if runtime.using_example:
        typer.echo(f"No {settings.config_path} found: using the built-in example series "
                   f"{runtime.config.series[0].id!r}.", err=True)
    return runtime


def series_or_exit(runtime, series_id: str):
    try:
        return runtime.config.get(series_id)
    except KeyError as error:
        fail(error.args[0])


def parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--date {value!r} is not a date; write it as YYYY-MM-DD")


@cli.command()
def run(config: ConfigOption = None,
        series: Annotated[Optional[str], typer.Option(help="terminal: the series to act on")] = None,
        speaker: Annotated[Optional[str], typer.Option("--as", help="terminal: who is speaking")] = None):
    """Run the bot: Slack and Discord where their credentials are set, else the terminal."""
    import asyncio

    from chatbot import app as composition
    from chatbot.ports import StartupError

    settings = settings_or_exit(config)
    platforms = composition.platforms_for(settings)
    # In the terminal the conversation is on standard output; its log lines go beside it.
    composition.configure_logging(settings.log_level,
                                  sys.stderr if platforms == ["terminal"] else sys.stdout)
    runtime = runtime_or_exit(settings, platforms)
    if series is not None:
        series_or_exit(runtime, series)
    options = {"series_id": series, "speaker": speaker} if platforms == ["terminal"] else {}
    try:
        asyncio.run(_run(runtime, platforms, options))
    except StartupError as error:
        fail(str(error))


async def _run(runtime, platforms, options) -> None:
    import asyncio

    from chatbot import app as composition

    adapters = composition.create_adapters(runtime, platforms, **options)
    # A piped terminal session is a script that ends at EOF: scheduled posts would interleave
    # with its output, so only a person at a terminal gets them.
    scheduler = runtime.scheduler if platforms != ["terminal"] or sys.stdin.isatty() else None
    if scheduler is not None:
        await scheduler.start()
    try:
        await asyncio.gather(*(a.run() for a in adapters))
    finally:
        if scheduler is not None:
            await scheduler.stop()
        for adapter in adapters:
            await adapter.close()


DEMO_SCRIPT = """\
/as sgibson91
/meeting profile Sarah Gibson / 2i2c / @sgibson91
/meeting here
/meeting chair @sgibson91
/meeting notetaker @manics
/meeting remind
I will be officially starting as JupyterHub Community Strategic Lead from August 1.
/as manics
/meeting profile Simon Li / University of Dundee / @manics
/meeting here
Z2JH 2.0.0-beta.1 almost (hopefully) ready https://github.com/jupyterhub/zero-to-jupyterhub-k8s/pull/2528/
/as callum
apologies, cannot attend today. My update is that I am going to redeploy Turing's binder.
/as consideratio
/celebrate mybinder.org-deploy updated with modern versions of prometheus, grafana, cert-manager
/as minrk
/meeting profile Min RK / Simula / @minrk
/meeting here
/agenda add (~5min) JupyterHub 3.0 https://github.com/jupyterhub/jupyterhub/issues/3982
/as rpwagner
/agenda add (10 minutes) JupyterHub for workshops setup (optional)
/agenda list
/as sgibson91
/meeting start
/as manics
/agenda note 1 Ready to make a release, fairly small but a major release (3.0.0)
/meeting action @minrk Add changelog entries when opening breaking PRs
/as sgibson91
/meeting end
"""


@cli.command()
def demo():
    """Run a scripted meeting end to end in memory and print the notes."""
    import asyncio
    import io
    import tempfile

    from chatbot import app as composition

    with tempfile.TemporaryDirectory() as folder:
        settings = settings_or_exit(database_url=f"sqlite:///{folder}/demo.db",
                                    archive_dir=Path(folder) / "archive",
                                    config_path=Path(folder) / "none.toml")
        runtime = runtime_or_exit(settings, ["terminal"])
        (adapter,) = composition.create_adapters(runtime, ["terminal"], input=io.StringIO(DEMO_SCRIPT),
                                                 output=sys.stdout)
        asyncio.run(adapter.run())


@cli.command()
def schedule(series: Annotated[Optional[str], typer.Argument(help="a series id (default: every series)")] = None,
             config: ConfigOption = None,
             meetings: Annotated[int, typer.Option(min=1, help="how many meetings ahead")] = 3):
    """Print the upcoming sends with their times in UTC and in the series' zone."""
    from chatbot import app as composition
    from chatbot.schedule.upcoming import format_upcoming, upcoming

    settings = settings_or_exit(config)
    runtime = runtime_or_exit(settings, composition.platforms_for(settings))
    chosen = [series_or_exit(runtime, series)] if series else list(runtime.config.series)
    now = runtime.clock()
    typer.echo("\n\n".join(format_upcoming(s, upcoming(runtime.engine, s, now, meetings=meetings))
                            for s in chosen))


@cli.command()
def notes(series: str, config: ConfigOption = None,
          day: Annotated[Optional[str], typer.Option("--date", help="YYYY-MM-DD (default: next)")] = None):
    """Print a meeting's compiled notes."""
    runtime = runtime_or_exit(settings_or_exit(config), ["terminal"])
    series_or_exit(runtime, series)
    try:
        typer.echo(runtime.engine.notes(series, parse_day(day))[1], nl=False)
    except Exception as error:  # a Refusal: no such meeting
        fail(str(error))


@cli.command("archive")
def archive_command(series: str, config: ConfigOption = None,
                    directory: Annotated[Path, typer.Option("--dir")] = Path("docs/meetings"),
                    day: Annotated[Optional[str], typer.Option("--date")] = None):
    """Write a meeting's notes to DIR/SERIES/YYYY-MM-DD.md and refresh DIR/SERIES/index.md."""
    from chatbot.storage import archive as notes_archive

    runtime = runtime_or_exit(settings_or_exit(config), ["terminal"])
    series_or_exit(runtime, series)
    try:
        meeting_day, text = runtime.engine.notes(series, parse_day(day))
    except Exception as error:  # a Refusal: no such meeting
        fail(str(error))
    path = notes_archive.write(directory, series, meeting_day, text)
    typer.echo(f"wrote {path}")


@cli.command()
def calendar(series: str, config: ConfigOption = None,
             out: Annotated[Optional[Path], typer.Option("--out", help="file (default: stdout)")] = None):
    """Write an ICS feed of the next 12 occurrences."""
    from datetime import datetime, timezone

    from chatbot import app as composition
    from chatbot.schedule.calendar import to_ics
    from chatbot.schedule.config import ConfigError

    settings = settings_or_exit(config)
    try:
        config_, _ = composition.load_series(settings.config_path)
        chosen = config_.get(series)
    except ConfigError as error:
        fail(str(error))
    except KeyError as error:
        fail(error.args[0])
    feed = to_ics(chosen, chosen.occurrences(datetime.now(timezone.utc), 12))
    if out is None:
        sys.stdout.buffer.write(feed)
    else:
        out.write_bytes(feed)
        typer.echo(f"wrote {out}")


@db_cli.command()
def upgrade():
    """Apply the database migrations (also done at every start)."""
    from chatbot.storage import store

    settings = settings_or_exit()
    store.upgrade(store.create_db_engine(settings.database_url))
    typer.echo("database is up to date")


class PluginHost:
    """What a `chatbot.cli` plugin receives (chatbot.ports.CommandLine)."""

    def settings(self, config: Path | None = None):
        return settings_or_exit(config)

    def fail(self, message: str):
        fail(message)

    def values(self, settings):
        from chatbot import app as composition

        return composition.stored_values(settings)


def register_plugins() -> None:
    """Adapters add their own commands (`chatbot discord-sync`) through `chatbot.cli` entry points."""
    from importlib.metadata import entry_points

    for plugin in entry_points(group="chatbot.cli"):
        try:
            register = plugin.load()
        except ImportError:  # an adapter that is not built yet or lacks its dependencies
            continue
        register(cli, PluginHost())


def main() -> None:
    register_plugins()
    cli()
