"""Who may do what: the chair, an admin, an item's owner, and anyone while nobody is in charge."""

from __future__ import annotations

from chatbot.events import Actor, CommandCall, Place

from .conftest import SERIES

ADMINS = SERIES + 'admins = ["terminal:ada"]\n'
TWO_SERIES = SERIES + """
[[series]]
id = "dev"
name = "Dev Sync"
schedule = "every monday"
time = "09:00"
"""


def answers(bot, *lines: str) -> list[str]:
    """What each command line was answered, the refusals marked with ✗ as the terminal shows them."""
    return [bot.say(line).strip() for line in lines]


def test_anyone_runs_the_meeting_while_nobody_is_in_charge(bot):
    bot.say("/as min", "/agenda add (5m) item")
    out = bot.say("/as erik", "/meeting start")
    assert "The meeting is live with 1 agenda items" in out


def test_once_there_is_a_chair_only_the_chair_starts_ends_skips_or_cancels(bot):
    bot.say("/as sarah", "/meeting chair @sarah", "/as erik")
    refused = answers(bot, "/meeting start", "/meeting end", "/meeting skip", "/meeting cancel")
    assert refused == [
        "✗ Only the chair or an admin of Hubs Team Meeting can start the meeting.",
        "✗ Only the chair or an admin of Hubs Team Meeting can end the meeting.",
        "✗ Only the chair or an admin of Hubs Team Meeting can skip a meeting.",
        "✗ Only the chair or an admin of Hubs Team Meeting can cancel a meeting.",
    ]
    assert "The meeting is live" in bot.say("/as sarah", "/meeting start")


def test_with_admins_only_an_admin_runs_a_meeting_without_a_chair(make_bot):
    bot = make_bot(ADMINS)
    assert answers(bot, "/as erik", "/meeting skip")[1] == \
        "✗ Only the chair or an admin of Hubs Team Meeting can skip a meeting."
    assert "Skipped the meeting of Tue 19 Jul 2022" in bot.say("/as ada", "/meeting skip")


def test_the_permission_is_checked_before_the_meetings_state(bot):
    bot.say("/as sarah", "/meeting chair @sarah", "/meeting start")
    assert answers(bot, "/meeting start", "/meeting skip") == [
        "✗ The meeting is already live; `/meeting end` ends it.",
        "✗ The meeting is live; `/meeting end` ends it.",
    ]
    assert answers(bot, "/as erik", "/meeting start")[1] == \
        "✗ Only the chair or an admin of Hubs Team Meeting can start the meeting."


def test_anyone_sets_a_role_until_someone_holds_the_chair_then_the_chair_or_an_admin(make_bot):
    bot = make_bot(ADMINS)
    assert bot.say("/as erik", "/meeting notetaker @erik").strip().endswith(
        "erik is the notetaker for Tue 19 Jul 2022.")
    bot.say("/meeting chair @sarah")
    assert answers(bot, "/meeting notetaker @erik") == [
        "✗ Only the chair or an admin can set the notetaker."]
    assert "min is the notetaker" in bot.say("/as ada", "/meeting notetaker @min")
    assert "erik is the chair" in bot.say("/as sarah", "/meeting chair @erik")


def test_an_item_is_edited_by_its_presenter_its_adder_the_chair_or_an_admin(make_bot):
    bot = make_bot(ADMINS)
    bot.say("/as sarah", "/agenda add for @min (5m) one", "/agenda add (5m) two",
            "/agenda add (5m) three")
    assert answers(bot, "/as erik", "/agenda remove 1", "/agenda move 1 2", "/agenda defer 1")[1:] == [
        "✗ Item 1 is not yours; only its presenter, the chair or an admin can remove it.",
        "✗ Item 1 is not yours; only its presenter, the chair or an admin can move it.",
        "✗ Item 1 is not yours; only its presenter, the chair or an admin can defer it.",
    ]
    assert "Moved item 1 to place 2" in bot.say("/as min", "/agenda move 1 2")
    assert "Moved item 2 to place 1" in bot.say("/as sarah", "/agenda move 2 1")
    assert "Removed item 3: three" in bot.say("/as ada", "/agenda remove 3")
    bot.say("/as erik", "/meeting chair @erik")
    assert "Deferred item 1" in bot.say("/agenda defer 1")


def test_a_missing_item_is_refused_before_ownership_is_asked(bot):
    bot.say("/as sarah", "/meeting chair @sarah", "/agenda add (5m) one")
    assert answers(bot, "/as erik", "/agenda remove 4")[1] == \
        "✗ There is no item 4; the agenda has items 1 to 1 (see `/agenda list`)."


def test_help_and_profile_work_where_no_series_is(make_bot):
    bot = make_bot(TWO_SERIES)
    elsewhere, who = Place("slack", "C-none"), Actor("slack", "U1", "Min")
    [listing] = bot.engine.handle(CommandCall(who, elsewhere, "agenda", "list"))
    assert not listing.ok and listing.text.startswith("This channel has no meeting series.")
    [help_] = bot.engine.handle(CommandCall(who, elsewhere, "meeting", "help"))
    assert help_.ok and "/agenda add" in help_.text
    [profile] = bot.engine.handle(CommandCall(who, elsewhere, "meeting", "profile Min RK / Simula"))
    assert profile.ok and profile.text.splitlines() == [
        "Your roll-call line is now: Min RK / Simula",
        "- Name: Min RK", "- Institution: Simula", "- GitHub: none"]
