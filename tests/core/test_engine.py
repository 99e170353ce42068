"""The meeting engine, driven through the terminal adapter the way a person would use it."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from chatbot.events import Actor, CommandCall, Place, Reply, ReplyDeleted, ReplyEdited
from chatbot.storage.models import AgendaItem, Attendance, Identity, Outbox, Update
from chatbot.storage.store import session_scope

URL = "https://github.com/jupyterhub/jupyterhub/issues/3982"
MEETING = date(2022, 7, 19)


def test_an_agenda_item_reaches_the_compiled_notes(bot):
    out = bot.say("/as min", f"/agenda add (~5min) JupyterHub 3.0 {URL}", "/meeting compile")
    agenda = out.split("## Agenda items", 1)[1]
    assert f"- **min** (~5min) JupyterHub 3.0 <{URL}>" in agenda


def test_a_profile_name_replaces_the_handle(bot):
    bot.say("/as min", "/meeting profile Min RK / Simula / @minrk", "/meeting here",
            f"/agenda add (~5min) JupyterHub 3.0 {URL}")
    notes = bot.notes()
    assert f"- **Min RK** (~5min) JupyterHub 3.0 <{URL}>" in notes
    assert "- Min RK / Simula / @minrk" in notes


def test_a_series_roll_call_is_read_and_written_in_its_own_layout(make_bot):
    from tests.core.conftest import SERIES

    header = "Name (pronouns) / GitHub handle / affiliation / geographic location"
    bot = make_bot(SERIES + f'roll_call = "{header}"\n')
    out = bot.say("/as jun", "/meeting profile Jun Park (they/them) / @junpark / Cedar Institute / Busan",
                  "/meeting here", "/as lena", "/meeting profile Lena Roth / Tinker Co", "/meeting here")
    assert "- Name: Jun Park (they/them)\n- Affiliation: Cedar Institute / Busan\n- GitHub: @junpark" in out
    assert "'Tinker' may be a handle" not in out and "- GitHub: none; 'Tinker Co'" not in out
    notes = bot.notes()
    assert f"- {header}\n- Jun Park (they/them) / @junpark / Cedar Institute / Busan\n- Lena Roth / Tinker Co\n" in notes


def test_an_at_sign_in_a_title_is_text_not_a_mention(bot):
    bot.say("/as min", "/agenda add for @sarah (5 mins) Welcome our new engineer @Dataland",
            "/update thanks @erik for the review")
    notes = bot.notes()
    assert "- **sarah** (5 mins) Welcome our new engineer @Dataland" in notes
    assert "thanks @erik for the review" in notes


def test_thread_replies_are_quick_updates(bot):
    out = bot.say("/as sarah", "an update before any thread")
    assert "No call for updates is open" in out
    bot.say("/meeting remind", "first part", "second part", "/as erik", "pass",
            "/as callum", "Apologies: travelling. Redeploying Turing's binder on Friday.")
    notes = bot.notes()
    updates = notes.split("## Quick updates", 1)[1].split("## Reports", 1)[0]
    lines = [line for line in updates.splitlines() if line.lstrip().startswith("- ")]
    assert lines == [
        "- **callum** apologies, travelling. Redeploying Turing's binder on Friday.",
        "- **sarah** first part",
        "    - second part",
        "- **erik** pass",
    ]
    assert "an update before any thread" not in notes


def _reply_place(bot):
    thread = bot.engine.open_thread("hubs", "terminal")
    return Place("terminal", "hubs", thread)


def test_edits_replace_and_deletions_remove_the_right_reply(bot):
    bot.say("/meeting remind")
    place, sarah = _reply_place(bot), Actor("terminal", "sarah", "sarah")
    bot.engine.handle(Reply(sarah, place, "m-1", "first"))
    bot.engine.handle(Reply(sarah, place, "m-2", "deleted later"))
    bot.engine.handle(ReplyEdited(place, "m-1", "first, edited", sarah))
    bot.engine.handle(ReplyDeleted(place, "m-2"))
    assert bot.engine.handle(ReplyEdited(place, "never-seen", "ghost")) == []
    assert bot.engine.handle(ReplyDeleted(place, "never-seen")) == []
    notes = bot.notes()
    assert "- **sarah** first, edited" in notes
    assert "deleted later" not in notes and "ghost" not in notes


def test_a_duplicate_delivery_of_a_reply_is_stored_once(bot):
    bot.say("/meeting remind")
    place, sarah = _reply_place(bot), Actor("terminal", "sarah", "sarah")
    bot.engine.handle(Reply(sarah, place, "m-1", "only once"))
    bot.engine.handle(Reply(sarah, place, "m-1", "only once"))
    assert bot.notes().count("only once") == 1


def test_bad_replies_are_answered_and_change_nothing(bot):
    bot.say("/meeting remind")
    place, sarah = _reply_place(bot), Actor("terminal", "sarah", "sarah")
    bot.engine.handle(Reply(sarah, place, "m-1", "kept"))
    before = bot.notes()
    for text in ("", "   \n  ", "x" * 50_000):
        [answer] = bot.engine.handle(Reply(sarah, place, f"m-{len(text)}", text))
        assert not answer.ok and "not saved" in answer.text
    [answer] = bot.engine.handle(ReplyEdited(place, "m-1", "y" * 5000, sarah))
    assert not answer.ok and "earlier text stays" in answer.text
    assert bot.notes() == before


def test_rejected_commands_change_nothing(bot):
    bot.say("/as min", "/agenda add (~5min) one", "/agenda add (~5min) two")
    before = bot.notes()
    out = bot.say("/agenda add (five-ish min) three", "/agenda remove 9", "/agenda move 1 1",
                  "/agenda move 1 7", "/agenda frob", "/update   ", "/meeting profile Min / x / min@example.org",
                  "/celebrate " + "z" * 4001, "/nonsense")
    assert out.count("✗") == 9
    assert "I could not read the time estimate '(five-ish min)'" in out
    assert "There is no item 9; the agenda has items 1 to 2" in out
    assert "Item 1 is already at place 1" in out
    assert "Place 7 is outside the agenda; use 1 to 2" in out
    assert "never holds an email address" in out
    assert bot.notes() == before


def test_only_the_owner_or_the_chair_edits_an_item(bot):
    bot.say("/as sarah", "/meeting chair @sarah", "/as min", "/agenda add (~5min) one",
            "/as erik", "/agenda add (~5min) two")
    out = bot.say("/agenda remove 1")
    assert "Item 1 is not yours" in out
    assert "Removed item 2: two" in bot.say("/agenda remove 2")
    assert "Removed item 1: one" in bot.say("/as sarah", "/agenda remove 1")


def test_agenda_fit_overbooking_defaults_and_optional_items(bot):
    out = bot.say("/as min", "/agenda add (40 min) big", "/agenda add (optional) maybe",
                  "/agenda add no estimate here", "/agenda add (15 min) also big", "/agenda list")
    listing = out.rsplit("**Agenda for", 1)[1]
    assert listing.index("big") < listing.index("no estimate here") < listing.index("maybe")
    assert "Agenda: 65 of 58 min" in listing
    assert "Overbooked by 7 min" in listing
    assert "Items without an estimate, counted at 5 min each: 2" in listing


def test_similar_items_are_grouped(bot):
    out = bot.say("/as min", f"/agenda add (5m) JupyterHub 3.0 release {URL}", "/agenda add (5m) unrelated",
                  f"/agenda add (5m) database upgrade for {URL}")
    assert "Grouped with the similar item 1" in out
    with session_scope(bot.engine.db) as session:
        titles = [i.title for i in session.exec(select(AgendaItem).order_by(AgendaItem.position))]
    assert titles[1].startswith("database upgrade")


def test_defer_and_end_carry_items_to_the_next_meeting(bot, tmp_path):
    bot.say("/as min", "/agenda add (5m) deferred", "/agenda add (5m) discussed",
            "/agenda add (5m) not reached", "/agenda defer 1", "/meeting start",
            "/agenda note 1 we talked", "/meeting end")
    august = bot.notes(date(2022, 8, 16))
    assert "deferred" in august and "not reached" in august and "discussed" not in august
    with session_scope(bot.engine.db) as session:
        statuses = {(i.title, i.meeting_id): (i.status, i.carried_over)
                    for i in session.exec(select(AgendaItem))}
    assert statuses == {("deferred", 1): ("deferred", 0), ("discussed", 1): ("done", 0),
                        ("not reached", 1): ("carried", 0), ("deferred", 2): ("open", 1),
                        ("not reached", 2): ("open", 1)}
    archived = tmp_path / "archive" / "hubs"
    assert (archived / "2022-07-19.md").read_text().count("we talked") == 1
    assert (archived / "index.md").read_text().splitlines()[2] == "- [2022-07-19](2022-07-19.md)"


def test_a_late_reply_updates_the_digest_in_place_with_one_notice(bot):
    bot.say("/meeting remind", "/as sarah", "on time", "/meeting compile")
    out = bot.say("late one", "/as erik", "late two")
    assert out.count("--- late_notice") == 1
    assert out.count("--- updated digest") == 2
    assert "late two" in bot.notes()
    with session_scope(bot.engine.db) as session:
        digests = session.exec(select(Outbox).where(Outbox.kind == "digest")).all()
    assert len(digests) == 1 and digests[0].status == "sent"


def test_no_digest_for_an_empty_meeting(bot):
    out = bot.say("/meeting compile")
    assert "Nothing to compile" in out and "--- digest" not in out


def test_user_text_cannot_ping_or_break_the_structure(bot):
    bot.say("/meeting remind", "/as eve", "@channel look <!everyone> @here\\", "# Not a heading",
            "/celebrate ## also not a heading <script>x</script>")
    notes = bot.notes()
    assert "@channel" not in notes and "@here" not in notes and "<!everyone>" not in notes
    assert "\n# Not" not in notes and "- \\# Not a heading" in notes
    assert "\\## also not a heading &lt;script>" in notes
    assert [line for line in notes.splitlines() if line.startswith("#")] == [
        "# Hubs Team Meeting", "## Welcome to the Team Meeting", "## Quick updates",
        "## Reports and celebrations", "## Agenda items"]


def test_skip_posts_a_notice_and_moves_the_agenda(bot):
    out = bot.say("/as min", "/agenda add (5m) item", "/meeting skip")
    assert "Skipped the meeting of Tue 19 Jul 2022" in out and "--- notice" in out
    assert "item" in bot.notes(date(2022, 8, 16))
    assert "Tuesday 16 August 2022 17:00 UTC" in bot.say("/meeting")


def test_status_counts_and_links(bot):
    out = bot.say("/meeting remind", "/as a", "an update", "/meeting here", "/as b", "pass",
                  "/apologies away", "/meeting")
    assert "Updates: 2 · passes: 0 · present: 1 · apologies: 1" in out  # "away" replaced the pass
    assert "https://arewemeetingyet.com/UTC/2022-07-19/17:00/Hubs-Team-Meeting" in out


def test_one_person_across_platforms_by_github_handle(bot):
    slack = Actor("slack", "U1", "Min")
    bot.engine.handle(CommandCall(slack, Place("terminal", "hubs"), "update", "from slack"))
    bot.say("/as minrk", "/meeting profile Min RK / Simula / @minrk")
    answer = bot.engine.handle(CommandCall(slack, Place("terminal", "hubs"), "meeting",
                                           "profile Min RK / Simula / @minrk"))
    assert answer[0].ok
    with session_scope(bot.engine.db) as session:
        people = {u.person_id for u in session.exec(select(Update))}
    assert len(people) == 1
    assert "**Min RK** from slack" in bot.notes()


def test_no_command_text_makes_the_engine_raise(make_bot):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    bot = make_bot()
    actor, place = Actor("terminal", "fuzz", "fuzz"), Place("terminal", "hubs")
    words = st.sampled_from(["add", "list", "remove", "move", "defer", "note", "here", "profile",
                             "chair", "action", "compile", "start", "end", "1", "2", "<@x>",
                             "(~5min)", "(optional)", "/", "@", "pass", "for"])

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(group=st.sampled_from(["agenda", "update", "apologies", "celebrate", "meeting", "x"]),
           text=st.lists(st.one_of(words, st.text(max_size=12)), max_size=6).map(" ".join))
    def check(group, text):
        [answer] = bot.engine.handle(CommandCall(actor, place, group, text))
        assert answer.text

    check()


def test_catching_up_on_a_thread_applies_what_happened_while_away(bot):
    bot.say("/meeting remind")
    place, sarah, erik = _reply_place(bot), Actor("terminal", "sarah", "sarah"), Actor("terminal", "erik", "erik")
    bot.engine.handle(Reply(sarah, place, "m-1", "kept as is"))
    bot.engine.handle(Reply(sarah, place, "m-2", "edited while away"))
    bot.engine.handle(Reply(erik, place, "m-3", "deleted while away"))
    assert bot.engine.open_threads("terminal") == [place]
    thread = [Reply(sarah, place, "m-1", "kept as is"), Reply(sarah, place, "m-2", "edited: new text"),
              Reply(erik, place, "m-4", "posted while away")]
    bot.engine.catch_up(place, thread)
    bot.engine.catch_up(place, thread)  # a second start changes nothing more
    notes = bot.notes()
    assert "- **sarah** kept as is" in notes and "    - edited: new text" in notes
    assert "- **erik** posted while away" in notes
    assert "while away\n" not in notes.replace("posted while away\n", "")
    with session_scope(bot.engine.db) as session:
        assert len(session.exec(select(Update)).all()) == 3


def test_an_apologies_only_reply_is_kept_so_reading_the_thread_again_changes_nothing(bot):
    bot.say("/meeting remind")
    place, callum = _reply_place(bot), Actor("terminal", "callum", "callum")
    bot.engine.handle(Reply(callum, place, "m-1", "Apologies!"))
    bot.say("/meeting compile")
    bot.engine.catch_up(place, [Reply(callum, place, "m-1", "Apologies!")])
    with session_scope(bot.engine.db) as session:
        rows = {(r.kind, r.needs_edit) for r in session.exec(select(Outbox))}
    assert ("late_notice", False) not in rows and ("digest", True) not in rows
    assert "- **callum** apologies" in bot.notes()
    bot.engine.handle(ReplyEdited(place, "m-1", "apologies, my update: shipped 2.0", callum))
    assert "- **callum** apologies, my update: shipped 2.0" in bot.notes()


def _attendance(bot) -> dict[str, str]:
    with session_scope(bot.engine.db) as session:
        return dict(session.exec(select(Identity.user_id, Attendance.status)
                                 .join(Attendance, Attendance.person_id == Identity.person_id)).all())


def test_deleting_or_editing_away_a_reply_takes_back_its_apologies(bot):
    bot.say("/meeting remind")
    place = _reply_place(bot)
    callum, erik = Actor("terminal", "callum", "callum"), Actor("terminal", "erik", "erik")
    bot.engine.handle(Reply(callum, place, "m-1", "Apologies!"))
    bot.engine.handle(Reply(erik, place, "m-2", "regrets: travelling. Shipped 2.0"))
    assert _attendance(bot) == {"callum": "apologies", "erik": "apologies"}
    bot.engine.handle(ReplyDeleted(place, "m-1"))
    bot.engine.handle(ReplyEdited(place, "m-2", "Shipped 2.0", erik))
    assert _attendance(bot) == {}
    notes = bot.notes()
    assert "- **erik** Shipped 2.0" in notes and "apologies" not in notes and "callum" not in notes
    assert "apologies: 0" in bot.say("/meeting")
    bot.engine.handle(ReplyEdited(place, "m-2", "apologies, after all. Shipped 2.0", erik))
    assert _attendance(bot) == {"erik": "apologies"}
    assert "- **erik** apologies, after all. Shipped 2.0" in bot.notes()


def test_apologies_stay_while_something_else_still_gives_them(bot):
    bot.say("/meeting remind")
    place = _reply_place(bot)
    callum, erik = Actor("terminal", "callum", "callum"), Actor("terminal", "erik", "erik")
    bot.say("/as callum", "/apologies")
    bot.engine.handle(Reply(callum, place, "m-1", "apologies, away"))
    bot.engine.handle(Reply(erik, place, "m-2", "apologies"))
    bot.engine.handle(Reply(erik, place, "m-3", "regrets, and my update"))
    bot.engine.handle(ReplyDeleted(place, "m-1"))  # the command's apologies stand
    bot.engine.handle(ReplyEdited(place, "m-2", "an update after all", erik))  # m-3 still says so
    assert _attendance(bot) == {"callum": "apologies", "erik": "apologies"}
    bot.engine.handle(ReplyDeleted(place, "m-3"))
    assert _attendance(bot) == {"callum": "apologies"}


def test_taking_back_a_replys_apologies_leaves_the_roll_call(bot):
    bot.say("/meeting remind")
    place = _reply_place(bot)
    sarah, min_ = Actor("terminal", "sarah", "sarah"), Actor("terminal", "min", "min")
    bot.engine.handle(Reply(sarah, place, "m-1", "apologies"))
    bot.say("/as sarah", "/meeting here")  # present after all
    bot.say("/as min", "/meeting here")
    bot.engine.handle(Reply(min_, place, "m-2", "apologies, called away"))  # absent after all
    assert _attendance(bot) == {"sarah": "present", "min": "apologies"}
    bot.engine.handle(ReplyDeleted(place, "m-1"))
    bot.engine.handle(ReplyDeleted(place, "m-2"))
    assert _attendance(bot) == {"sarah": "present", "min": "present"}


def test_apologies_taken_back_after_the_digest_update_it(bot):
    bot.say("/meeting remind")
    place, callum = _reply_place(bot), Actor("terminal", "callum", "callum")
    bot.engine.handle(Reply(callum, place, "m-1", "apologies, away. Shipped 2.0"))
    bot.say("/as erik", "on time", "/meeting compile")
    bot.engine.handle(ReplyEdited(place, "m-1", "Shipped 2.0", callum))
    assert "--- updated digest" in bot.say("/meeting")
    assert "- **callum** Shipped 2.0" in bot.notes() and _attendance(bot) == {}
    bot.engine.handle(ReplyDeleted(place, "m-1"))
    assert "--- updated digest" in bot.say("/meeting")
    assert "callum" not in bot.notes()


def test_catching_up_sees_apologies_edited_away_while_away(bot):
    bot.say("/meeting remind")
    place, callum = _reply_place(bot), Actor("terminal", "callum", "callum")
    bot.engine.handle(Reply(callum, place, "m-1", "apologies, Shipped 2.0"))
    bot.engine.catch_up(place, [Reply(callum, place, "m-1", "Shipped 2.0")])
    assert _attendance(bot) == {} and "- **callum** Shipped 2.0" in bot.notes()
