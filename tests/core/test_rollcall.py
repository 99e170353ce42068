"""Roll-call lines as people sign in: read in the series' layout, each part where it belongs."""

from __future__ import annotations

import time

import pytest

from chatbot.text.rollcall import (
    DEFAULT_LAYOUT,
    MAX_LINE,
    ProfileError,
    explain,
    parse_layout,
    parse_profile,
)

TEAM = parse_layout(DEFAULT_LAYOUT)
CAFE = parse_layout("Name (pronouns) / GitHub handle / affiliation / geographic location")


def read(text: str, layout=TEAM) -> tuple[str, str, str]:
    profile = parse_profile(text, layout)
    return profile.name, profile.institution, profile.github


@pytest.mark.parametrize("text, expected", [
    ("Min RK / Simula / @minrk", ("Min RK", "Simula", "minrk")),
    ("Rick Wagner/ UCSD / rpwagner", ("Rick Wagner", "UCSD", "rpwagner")),
    ("Yuvi", ("Yuvi", "", "")),
    # pronouns belong to the name, however they are spaced or closed
    ("Ada Quill (she/her) / Lovelace Labs / @adaq", ("Ada Quill (she/her)", "Lovelace Labs", "adaq")),
    ("Bram Oyelaran( he /him) @bramo / Tidewater Uni", ("Bram Oyelaran( he /him)", "Tidewater Uni", "bramo")),
    # a fourth part (a second institution, a location) rides along
    ("Cass / Delta University / Fieldwork Co / @cass-d", ("Cass", "Delta University / Fieldwork Co", "cass-d")),
    ("Cass / Delta University / Fieldwork Co / cass-d", ("Cass", "Delta University / Fieldwork Co", "cass-d")),
    ("Dev Rao (@devrao) / Ocean Lab/NOAA/misc", ("Dev Rao", "Ocean Lab/NOAA/misc", "devrao")),
    # the handle is recognised wherever it stands and however it is written
    ("Emma Lind / @emmal / Nordic Data Centre", ("Emma Lind", "Nordic Data Centre", "emmal")),
    ("Emma Lind / \\@emmal / Nordic Data Centre", ("Emma Lind", "Nordic Data Centre", "emmal")),
    ("Emma Lind / `@emmal` / Nordic Data Centre", ("Emma Lind", "Nordic Data Centre", "emmal")),
    ("Emma Lind [@emmal](https://github.com/emmal)", ("Emma Lind", "", "emmal")),
    ("Emma Lind / Nordic Data Centre / https://github.com/emmal", ("Emma Lind", "Nordic Data Centre", "emmal")),
    # " | " between the parts
    ("Finn Aho | Compute/Storage | @finnaho", ("Finn Aho", "Compute/Storage", "finnaho")),
    # a remark after the handle is not part of the line
    ("Gia / Harbor College / @giah (joining late)", ("Gia", "Harbor College", "giah")),
    # "-", "None" and "?" mean none
    ("Hugo Brandt / None / hbrandt", ("Hugo Brandt", "", "hbrandt")),
    ("Hugo Brandt / - / @hbrandt", ("Hugo Brandt", "", "hbrandt")),
    # an at-sign inside a word is neither a handle nor an address
    ("Iris / Science@Home / @iris-k", ("Iris", "Science@Home", "iris-k")),
    # a word in the handle's place that is not a handle stays with the institution
    ("Min / Simula / not a handle!", ("Min", "Simula / not a handle!", "")),
])
def test_lines_in_the_team_order(text, expected):
    assert read(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Jun / @junpark / Cedar Institute", ("Jun", "Cedar Institute", "junpark")),
    ("Jun Park (they/them) / @junpark / Cedar Institute of Tech / Busan, KR",
     ("Jun Park (they/them)", "Cedar Institute of Tech / Busan, KR", "junpark")),
    ("Jun / junpark / Cedar Institute", ("Jun", "Cedar Institute", "junpark")),
    ("Jun Park/ junpark/ Cedar/Oak Labs", ("Jun Park", "Cedar/Oak Labs", "junpark")),
    ("Jun Park/@junpark/Cedar/ Busan", ("Jun Park", "Cedar / Busan", "junpark")),
    ("Kim / @kimv / -", ("Kim", "", "kimv")),
    ("Kim / kimv / Quarry Lab / ?", ("Kim", "Quarry Lab", "kimv")),
    ("Kim (she/her / @kimv / Quarry Lab", ("Kim (she/her", "Quarry Lab", "kimv")),
    # the handle's place left empty: the institution is not promoted to a handle
    ("Lena Roth / / Tinker Co", ("Lena Roth", "Tinker Co", "")),
    # a part with spaces is no handle: the line skipped it
    ("Lena Roth / Tinker Company / Vienna", ("Lena Roth", "Tinker Company / Vienna", "")),
])
def test_lines_in_the_other_order_with_the_layout_set(text, expected):
    assert read(text, CAFE) == expected


@pytest.mark.parametrize("text, unsure", [
    ("Mo Reed / Fernwood", "Fernwood"),  # too short to tell which place the word is in
    ("Ned Park (he/him) / Brightside / Portland, OR", "Brightside"),  # a place after it
])
def test_an_uncertain_handle_is_not_invented(text, unsure):
    profile = parse_profile(text, CAFE)
    assert (profile.github, profile.unsure) == ("", unsure)
    assert unsure in profile.institution
    assert f"write @{unsure} if it is your handle" in explain(profile, CAFE)


@pytest.mark.parametrize("text, expected", [
    ("Min / Simula / min@example.org", "never holds an email address"),
    (" / Simula", "Give a name"),
    ("None / Simula / @minrk", "Give a name"),
    ("x" * 101 + " / Simula", "at most 100 characters"),
    ("Min / " + "Simula " * 60, f"at most {MAX_LINE} characters"),
])
def test_bad_profiles(text, expected):
    with pytest.raises(ProfileError, match=expected):
        parse_profile(text, TEAM)


def test_the_answer_shows_every_field():
    profile = parse_profile("Gia (she/her) / @giah / Harbor College / Lisbon (back in May)", CAFE)
    assert explain(profile, CAFE) == (
        "- Name: Gia (she/her)\n"
        "- Affiliation: Harbor College / Lisbon (back in May)\n"
        "- GitHub: @giah"
    )
    remark = parse_profile("Gia / Harbor College / @giah (joining late)", TEAM)
    assert explain(remark, TEAM).splitlines()[1:] == [
        "- Institution: Harbor College", "- GitHub: @giah",
        "- Left out: (joining late), a remark rather than part of the line"]
    assert explain(parse_profile("Gia", TEAM), TEAM).splitlines()[1:] == [
        "- Institution: none", "- GitHub: none"]


def test_a_line_is_written_in_the_series_layout():
    assert CAFE.render("Jun (they/them)", "Cedar / Busan", "junpark") == \
        "Jun (they/them) / @junpark / Cedar / Busan"
    assert TEAM.render("Jun (they/them)", "Cedar / Busan", "junpark") == \
        "Jun (they/them) / Cedar / Busan / @junpark"
    assert CAFE.render("Jun", "", "") == TEAM.render("Jun", "", "") == "Jun"
    for layout in (TEAM, CAFE):
        line = layout.render("Jun Park (they/them)", "Cedar Institute", "junpark")
        assert read(line, layout) == ("Jun Park (they/them)", "Cedar Institute", "junpark")


@pytest.mark.parametrize("header, message", [
    ("name / institution", "0 github parts"),
    ("GitHub handle / affiliation", "0 name parts"),
    ("name / GitHub / handle", "2 github parts"),
    ("name / institution / employer / GitHub handle", "not a roll-call layout"),
    ("", "name the parts people write"),
])
def test_bad_layouts(header, message):
    with pytest.raises(ValueError, match=message):
        parse_layout(header)


def test_reading_stays_linear_on_the_longest_text():
    texts = ["(" * 4000, "/" * 4000, "@" * 4000, "a@" * 2000, "[@" * 2000, "she/" * 1000,
             "x" * 4000, "github.com/" * 360]
    for text in texts:
        for candidate in (text, text[:MAX_LINE]):
            start = time.perf_counter()
            try:
                parse_profile(candidate, CAFE)
            except ProfileError:
                pass
            assert time.perf_counter() - start < 0.05, candidate[:20]
