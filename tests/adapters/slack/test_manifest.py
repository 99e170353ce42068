"""The Slack app manifest declares exactly the command table's slash commands, escaped, and the
scopes and events the adapter uses."""

from __future__ import annotations

import re
from pathlib import Path

from chatbot.commands import COMMANDS, GROUPS

MANIFEST = (Path(__file__).parents[3] / "slack-manifest.yml").read_text()


def commands_in_manifest() -> dict[str, str]:
    """Each `- command:` entry's text, up to the next entry or section."""
    section = MANIFEST.split("  slash_commands:\n", 1)[1].split("\noauth_config:")[0]
    entries = re.split(r"^    - command: ", section, flags=re.MULTILINE)
    return {entry.split("\n", 1)[0].strip(): entry for entry in entries if entry.strip()}


def test_the_manifest_commands_are_the_command_tables_groups():
    found = commands_in_manifest()
    assert list(found) == [f"/{group}" for group in GROUPS]
    for group in GROUPS:
        entry = found[f"/{group}"]
        assert "should_escape: true" in entry  # mentions arrive as <@U123|name>
        hint = re.search(r'usage_hint: "(.*)"', entry).group(1)
        for command in (c for c in COMMANDS if c.group == group and c.name):
            assert re.search(rf"(^|\| ){command.name}\b", hint), f"/{group} {command.name} is missing"


def test_the_manifest_has_the_scopes_and_events_the_adapter_uses():
    scopes = set(re.findall(r"^      - ([a-z]+:?[a-z]*)\b(?!\.)", MANIFEST.split("bot:\n", 1)[1].split("settings:")[0],
                            re.MULTILINE))
    assert scopes == {"commands", "chat:write", "channels:history", "groups:history", "users:read", "files:write"}
    events = set(re.findall(r"^      - (message\.[a-z]+)", MANIFEST, re.MULTILINE))
    assert events == {"message.channels", "message.groups"}
    assert "socket_mode_enabled: true" in MANIFEST
