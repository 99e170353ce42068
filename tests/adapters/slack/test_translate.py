"""Slack payloads to core events: pure, so checked payload by payload."""

from __future__ import annotations

from adapters.slack.translate import (
    command_to_event,
    free_text,
    message_to_reply,
    people_in,
    to_event,
    unescape,
)
from chatbot import commands
from chatbot.events import Actor, CommandCall, Place, Reply, ReplyDeleted, ReplyEdited
from chatbot.text.rollcall import parse_profile
from tests.fakes.slack import (
    message_changed_event,
    message_deleted_event,
    message_event,
    slash_command_form,
)

CH = "C0123456789"
THREAD = "1700000000.000100"


def test_unescape_undoes_slack_entities_once():
    assert unescape("a &lt;b&gt; &amp;amp; c") == "a <b> &amp; c"


def test_free_text_reads_like_the_person_wrote_it():
    wire = ("hi <@U1> and <@U2|bob>: see <https://x.org/a?b=1&amp;c=2|the docs>, <https://y.org>, "
            "<http://z.org|z.org>, <mailto:a@b.org|a@b.org>, <#C9|general> &lt;b&gt; &amp; "
            "<!here> <!subteam^S1|@core> <!date^1658250000^{date}|19 July>")
    assert free_text(wire, {"U1": "Ada Lovelace"}) == (
        "hi @Ada Lovelace and @bob: see [the docs](https://x.org/a?b=1&c=2), https://y.org, "
        "http://z.org, a@b.org, #general <b> & @here @core 19 July")
    assert free_text("<@U3> <not a link>") == "@U3 <not a link>"


def test_a_slash_command_becomes_a_command_call_the_grammar_reads():
    form = slash_command_form("/agenda", "add for <@URICK|rpwagner> (10 minutes) Workshops with <@UMIN|minrk> "
                              "&amp; <https://x.org|notes>", "USARAH", CH, user_name="sgibson91")
    call = command_to_event(form, {"USARAH": "Sarah Gibson", "URICK": "Rick Wagner"})
    assert call == CommandCall(Actor("slack", "USARAH", "Sarah Gibson"), Place("slack", CH), "agenda",
                               "add for <@URICK> (10 minutes) Workshops with @minrk & [notes](https://x.org)",
                               {"URICK": "Rick Wagner"})
    parsed = commands.parse(call.command, call.text)
    assert parsed.args["presenter"] == "URICK" and parsed.args["text"].startswith("(10 minutes) Workshops")


def test_command_mentions_fall_back_to_slack_names():
    call = command_to_event(slash_command_form("/meeting", "chair <@USIMON|manics>", "USARAH", CH,
                                               user_name="sgibson91"))
    assert (call.text, dict(call.users), call.actor.name) == ("chair <@USIMON>", {"USIMON": "manics"}, "sgibson91")
    assert commands.parse("meeting", call.text).args["user"] == "USIMON"


def test_a_github_handle_slack_took_for_a_mention_stays_a_handle():
    call = command_to_event(slash_command_form("/meeting", "profile Min RK / Simula / <@UMIN|minrk>", "UMIN", CH))
    assert call.text == "profile Min RK / Simula / @minrk" and not call.users
    assert parse_profile(commands.parse("meeting", call.text).args["profile"]).github == "minrk"


def test_people_in_lists_the_author_then_the_mentioned():
    assert people_in(slash_command_form("/meeting", "action <@U2|b> talk to <@U3>", "U1", CH)) == ["U1", "U2", "U3"]
    assert people_in(message_event(CH, "U1", "hi <@U4>", thread_ts=THREAD, escape_text=False)) == ["U1", "U4"]
    assert people_in(message_changed_event(CH, "1.2", "now <@U5>", "U1", THREAD, escape_text=False)) == ["U1", "U5"]


def test_a_thread_reply_edit_and_deletion():
    reply = message_event(CH, "U1", "shipped <things> & more", thread_ts=THREAD)
    assert to_event(reply, {"U1": "Ada"}) == Reply(Actor("slack", "U1", "Ada"), Place("slack", CH, THREAD),
                                                   reply["ts"], "shipped <things> & more")
    edit = message_changed_event(CH, reply["ts"], "final", "U1", THREAD, previous_text="draft")
    assert to_event(edit) == ReplyEdited(Place("slack", CH, THREAD), reply["ts"], "final", Actor("slack", "U1", ""))
    deleted = message_deleted_event(CH, reply["ts"], THREAD)
    assert to_event(deleted) == ReplyDeleted(Place("slack", CH, THREAD), reply["ts"])


def test_what_is_not_a_person_writing_in_a_thread_is_nothing_for_the_core():
    assert to_event(message_event(CH, "U1", "top level")) is None
    bot = message_event(CH, "UBOT", "ours", thread_ts=THREAD)
    bot["bot_id"] = "BBOT"
    assert to_event(bot) is None
    assert to_event({**message_event(CH, "U1", "joined", thread_ts=THREAD), "subtype": "channel_join"}) is None
    unfurl = message_changed_event(CH, "1.2", "same", "U1", THREAD, previous_text="same")
    assert to_event(unfurl) is None
    assert to_event(message_changed_event(CH, THREAD, "parent edited", "U1")) is None
    assert to_event(message_deleted_event(CH, THREAD)) is None  # a top-level message
    assert to_event({"type": "reaction_added"}) is None
    broadcast = {**message_event(CH, "U1", "also to the channel", thread_ts=THREAD), "subtype": "thread_broadcast"}
    assert isinstance(to_event(broadcast), Reply)


def test_a_thread_read_back_gives_the_replies_a_live_event_would():
    parent = {"type": "message", "user": "UBOT", "bot_id": "B1", "ts": THREAD, "thread_ts": THREAD,
              "text": "Call for updates"}
    live = message_event(CH, "UMIN", "see <@USIMON> &amp; <https://x.org|this>", thread_ts=THREAD,
                         escape_text=False)
    read = {k: v for k, v in live.items() if k not in ("channel", "event_ts", "channel_type")}
    names = {"UMIN": "Min RK", "USIMON": "Simon Li"}
    assert message_to_reply(CH, parent, names) is None
    for not_a_person in ({"bot_id": "B1"}, {"subtype": "bot_message"}, {"subtype": "channel_join"}):
        assert message_to_reply(CH, {**read, **not_a_person}, names) is None
    assert message_to_reply(CH, read, names) == to_event(live, names) == Reply(
        Actor("slack", "UMIN", "Min RK"), Place("slack", CH, THREAD), live["ts"],
        "see @Simon Li & [this](https://x.org)")
