"""Agenda lines as people write them in meeting notes: the estimate, the title and "can wait"."""

from __future__ import annotations

import pytest

from chatbot.text.durations import parse_estimate


@pytest.mark.parametrize("text, minutes, title", [
    # unsure: a question mark after the estimate
    ("(15m?): Moving the docs to a new theme", 15, "Moving the docs to a new theme"),
    ("(4m?) Cutting a release", 4, "Cutting a release"),
    ("(5-20 min?): Retrospective of the sprint", 20, "Retrospective of the sprint"),
    # square brackets, alone or beside a name
    ("triage backlog [4m]", 4, "triage backlog"),
    ("[20minutes]: Rotating the on-call pager", 20, "Rotating the on-call pager"),
    ("[3 mins] - Flaky CI on the Windows runners", 3, "Flaky CI on the Windows runners"),
    ("Dropping Python 3.8 [Ada - 6m]", 6, "Dropping Python 3.8 [Ada - ]"),
    ("Helm chart values [Grace, 5-10min]", 10, "Helm chart values [Grace, ]"),
    ("Release notes [Ada/Grace - 2 mins?]", 2, "Release notes [Ada/Grace - ]"),
    # HackMD's tags
    ("[time=12 minutes] Storage quotas", 12, "Storage quotas"),
    ("[name=Ada] [time=3 minutes] Storage quotas", 3, "Storage quotas"),
    ("Storage quotas [name=Ada, 7 min]", 7, "Storage quotas [name=Ada, ]"),
    ("Storage quotas [name=Ada]", None, "Storage quotas [name=Ada]"),
    # words that only qualify the estimate go with it; a sentence beside it stays
    ("(**first** 5 mins) Is the cluster healthy?", 5, "Is the cluster healthy?"),
    ("(10-15 min chat): metrics dashboards", 15, "metrics dashboards"),
    ("Lint rules (5 min to agree on it, then a vote by hands)", 5,
     "Lint rules ( to agree on it, then a vote by hands)"),
    ("Mirror outage (Grace +?, 10 min)", 10, "Mirror outage (Grace +?, )"),
    # written after the meeting: the plan and what it took
    ("(5 turned 20 min): Auth refactor", 20, "Auth refactor"),
    # an estimate with a remark inside its parenthesis
    ("(15 mins (Ada joins late)): GPU nodes", 15, "( (Ada joins late)): GPU nodes"),
    # bare minutes where an estimate stands, not inside what is said
    ("10 mins (needs a breakout?): summer interns", 10, "(needs a breakout?): summer interns"),
    ("Tidy up the labels, 5min", 5, "Tidy up the labels,"),
    ("Conference next week; I have a 4 minute lightning talk.", None,
     "Conference next week; I have a 4 minute lightning talk."),
    ("Python 3.12 support", None, "Python 3.12 support"),
    # "Min" is a person
    ("(picking up from Min's item): Who reviews the spawner PRs?", None,
     "(picking up from Min's item): Who reviews the spawner PRs?"),
    ("Hand-over of the release duty to Min", None, "Hand-over of the release duty to Min"),
    # an emoji shortcode at the start is kept whole
    (":rocket: Launch checklist", None, ":rocket: Launch checklist"),
    # estimates in hours
    ("(1.5h) Planning day", 90, "Planning day"),
])
def test_estimates_and_titles_as_a_person_reads_them(text, minutes, title):
    estimate = parse_estimate(text)
    assert (estimate.minutes, estimate.title) == (minutes, title)


@pytest.mark.parametrize("text, optional", [
    ("Docs sprint ideas (optional)", True),
    ("Docs sprint ideas (if time)", True),
    ("If time, a look at the new logo drafts", True),
    ("If we have time I can demo the profiler", True),
    ("Roadmap wording (not a priority) [draft](https://example.org/d)", True),
    ("if there's time: the bot's avatar", True),
    ("Timeline for the 5.0 release", False),
    ("What to do if time zones drift in the calendar", False),
])
def test_items_that_can_wait(text, optional):
    assert parse_estimate(text).optional is optional


@pytest.mark.parametrize("text", ["(a few min) thing", "[ten minutes] thing", "(X minutes) thing"])
def test_a_unit_without_a_number_is_asked_about(text):
    with pytest.raises(ValueError, match="could not read the time estimate"):
        parse_estimate(text)


def test_an_estimate_is_read_in_linear_time_on_long_text():
    import time

    for text in ("(" * 4000, "(5 " + "m" * 3997, "[" + "1 min " * 660, "5 " + " " * 3990 + "x",
                 "(" + "min " * 999):
        start = time.perf_counter()
        try:
            parse_estimate(text)
        except ValueError:
            pass
        assert time.perf_counter() - start < 0.05, text[:20]
