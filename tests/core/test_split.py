"""The one splitter both platforms' renderers use: parts within a limit, cut where a reader expects."""

from __future__ import annotations

from chatbot.text.split import split

DISCORD_LIMIT = 2000


def test_parts_split_at_lines_and_never_inside_a_link():
    text = "\n".join(f"line {n} " + "word " * 50 for n in range(200))
    pieces = split(text, 1000)
    assert all(len(p) <= 1000 for p in pieces) and "\n".join(pieces) == text
    long_line = ("word " * 150 + "<https://example.org/" + "a" * 60 + "|label> ") * 3
    pieces = split(long_line, 1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert all(p.count("<") == p.count(">") for p in pieces)


def test_a_line_longer_than_a_message_is_broken_at_spaces():
    parts = split("word " * 1000, DISCORD_LIMIT)
    assert all(len(p) <= DISCORD_LIMIT for p in parts) and " ".join(parts).split() == ["word"] * 1000


def test_a_code_block_cut_in_two_is_closed_and_reopened():
    text = "intro\n```\n" + "\n".join(f"line {n} " + "y" * 50 for n in range(60)) + "\n```\nafter"
    parts = split(text, DISCORD_LIMIT)
    assert len(parts) == 2 and all(len(p) <= DISCORD_LIMIT for p in parts)
    assert parts[0].endswith("\n```") and parts[1].startswith("```\n") and parts[1].endswith("```\nafter")
