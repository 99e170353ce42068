"""The pure halves of the adapter: Discord payloads to core events, neutral Markdown to Discord."""

from __future__ import annotations

import pytest

from adapters.discord import translate
from adapters.discord.render import MAX_MESSAGE, render
from chatbot import commands
from chatbot.commands import COMMANDS, UsageError
from chatbot.events import Actor, Place

ACTOR = Actor("discord", "1", "Sarah Gibson")
PLACE = Place("discord", "100", None)
SAMPLE = {"text": "(~5min) JupyterHub 3.0", "int": 2, "user": "222"}


def _interaction(group: str, sub: str, options: list[dict], resolved: dict | None = None) -> dict:
    data: dict = {"name": group, "type": 1}
    data["options"] = [{"name": sub, "type": 1, "options": options}] if sub else options
    if resolved:
        data["resolved"] = resolved
    return data


def _leaf(tree: list[dict], command) -> tuple[str, list[dict]]:
    top = next(c for c in tree if c["name"] == command.group)
    if top["options"] and top["options"][0]["type"] == 1:
        sub = next(o for o in top["options"] if o["name"] == (command.name or translate.GROUP_ACTION))
        return sub["name"], sub["options"]
    return "", top["options"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.key)
def test_every_table_entry_is_in_the_tree_and_reads_back_as_itself(command):
    sub, options = _leaf(translate.command_tree(), command)
    values = []
    for option in options:
        if option["type"] == translate.STRING:
            value = {"name": "Min RK", "institution": "Simula", "github": "@minrk"}.get(option["name"], SAMPLE["text"])
        else:
            value = SAMPLE[{translate.INTEGER: "int", translate.USER: "user"}[option["type"]]]
        values.append({"name": option["name"], "type": option["type"], "value": value})
    resolved = {"users": {"222": {"id": "222", "username": "minrk", "global_name": "Min RK"}}}
    call = translate.to_call(_interaction(command.group, sub, values, resolved), actor=ACTOR, place=PLACE)
    assert commands.parse(call.command, call.text).command == command
    if any(p.kind == "user" for p in command.params):
        assert dict(call.users) == {"222": "Min RK"}


def test_options_become_the_core_grammar():
    def text_of(group, sub, options, **kw):
        return translate.to_call(_interaction(group, sub, options, kw.get("resolved")), actor=ACTOR,
                                 place=PLACE).text

    members = {"users": {"7": {"id": "7", "username": "rpwagner", "global_name": "Rick W"}},
               "members": {"7": {"nick": "Rick Wagner"}}}
    assert text_of("agenda", "add", [{"name": "text", "type": 3, "value": "(10 minutes) Workshops"},
                                     {"name": "presenter", "type": 6, "value": "7"}],
                   resolved=members) == "add for <@7> (10 minutes) Workshops"
    assert text_of("agenda", "move", [{"name": "number", "type": 4, "value": 3},
                                      {"name": "to", "type": 4, "value": 1}]) == "move 3 1"
    assert text_of("meeting", "status", []) == ""
    assert text_of("apologies", "", []) == ""
    assert text_of("meeting", "profile", [{"name": "name", "type": 3, "value": "Min RK"},
                                          {"name": "github", "type": 3, "value": "@minrk"}]) == "profile Min RK /  / @minrk"
    # the handle field is marked as a handle, whatever order the series' roll call reads in
    assert text_of("meeting", "profile", [{"name": "name", "type": 3, "value": "Min RK"},
                                          {"name": "institution", "type": 3, "value": "Simula"},
                                          {"name": "github", "type": 3, "value": "minrk"}]) == \
        "profile Min RK / Simula / @minrk"
    call = translate.to_call(_interaction("meeting", "chair", [{"name": "user", "type": 6, "value": "7"}], members),
                             actor=ACTOR, place=PLACE)
    assert call.text == "chair <@7>" and dict(call.users) == {"7": "Rick Wagner"}  # nickname first


def test_mentions_in_free_text_read_as_names():
    call = translate.to_call(
        _interaction("update", "", [{"name": "text", "type": 3, "value": "thanks <@!5> and <@6> in <#9> <@&8> :)"}]),
        actor=ACTOR, place=PLACE, names={"5": "Min RK"}, roles={"8": "maintainers"}, channels={"9": "binder"})
    assert call.text == "thanks @Min RK and @someone in #binder @maintainers :)"
    assert translate.free_text("a <:party:12345> b <a:wave:99>", {}) == "a :party: b :wave:"
    assert translate.mentioned(_interaction("update", "", [{"name": "text", "type": 3, "value": "<@1> <@&2> <#3>"}])) \
        == ({"1"}, {"2"}, {"3"})


def test_what_cannot_be_read_is_a_usage_error():
    with pytest.raises(UsageError, match="cannot contain '/'"):
        translate.to_call(_interaction("meeting", "profile", [{"name": "name", "type": 3, "value": "A / B"}]),
                          actor=ACTOR, place=PLACE)
    with pytest.raises(UsageError, match="/meeting frobnicate is not a command"):
        translate.to_call(_interaction("meeting", "frobnicate", []), actor=ACTOR, place=PLACE)


def test_display_names_prefer_nickname_then_global_name_then_user_name():
    user = {"id": "1", "username": "minrk", "global_name": "Min RK"}
    assert translate.display_name(user, {"nick": "Min"}) == "Min"
    assert translate.display_name(user, {"nick": None}) == "Min RK"
    assert translate.display_name({"id": "1", "username": "minrk", "global_name": None}) == "minrk"


def test_messages_become_thread_events():
    reply = translate.to_reply(author_id=5, author_name="Simon Li", parent_id=100, thread_id=200, message_id=300,
                               content="ping <@6>", users={"6": "Min RK"})
    assert reply.place == Place("discord", "100", "200") and reply.message_id == "300"
    assert reply.text == "ping @Min RK" and reply.actor == Actor("discord", "5", "Simon Li")
    edit = translate.to_edit(author_id=None, author_name="", parent_id=None, thread_id=200, message_id=300,
                             content="new")
    assert edit.actor is None and edit.place == Place("discord", "", "200")
    assert translate.to_delete(parent_id=100, thread_id=200, message_id=300).message_id == "300"


def test_the_tree_hash_changes_with_the_tree_or_the_application():
    tree = translate.command_tree()
    assert translate.tree_hash(1, tree) == translate.tree_hash(1, translate.command_tree())
    assert translate.tree_hash(2, tree) != translate.tree_hash(1, tree)
    assert translate.tree_hash(1, tree[:-1]) != translate.tree_hash(1, tree)
    for command in tree:
        assert 1 <= len(command["description"]) <= 100
        for option in command["options"]:
            assert 1 <= len(option["description"]) <= 100


def test_times_show_in_each_readers_zone_and_nobody_is_pinged():
    (text,) = render("**Next:** <time:1658250000|Tuesday 19 July 2022 17:00 UTC>, @everyone and @here")
    assert text == "**Next:** <t:1658250000:F> (<t:1658250000:R>), @\u200beveryone and @\u200bhere"


def test_long_text_is_split_between_lines():
    lines = [f"- item {n:03d} " + "x" * 60 for n in range(100)]
    parts = render("\n".join(lines))
    assert len(parts) == 4 and all(len(p) <= MAX_MESSAGE for p in parts)
    assert "\n".join(parts).splitlines() == lines
    assert render("") == [] and render("\n \n") == []
