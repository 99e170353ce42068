"""People's text that tries to be more than text: HTML and script links in the archived notes,
links disguised as other addresses, mentions echoed in answers."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import markdown
import pytest
from markdown_it import MarkdownIt

from adapters.discord.render import render_text as discord_text
from adapters.slack.render import mrkdwn
from adapters.terminal import render as terminal_text
from chatbot.events import Actor, CommandCall, Place
from chatbot.text import markdown as md

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[y](JaVaScRiPt:alert(1))",
    "![z](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[ref][evil] and [evil]",
    "[evil]: javascript:alert(1)",
    "<a href='javascript:alert(1)'>a</a>",
    "&lt;img src=x onerror=alert(1)&gt;",
    "<div onclick=alert(1)>",
    "`<b>` <!-- comment -->",
    "<https://example.org\" onmouseover=\"alert(1)>",
    "[https://github.com/jupyterhub](http://evil.example/phish)",
]
SAFE_SCHEMES = ("http://", "https://", "mailto:")
TAGS = {"h1", "h2", "p", "ul", "ol", "li", "strong", "em", "a", "code", "pre", "br", "hr", "blockquote"}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def live_html(html: str) -> list[str]:
    """Whatever in rendered HTML could run or lead somewhere other than the web or mail."""
    parser = Tags()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag not in TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                problems.append(f"{tag} {name}")
            if name in ("href", "src") and not (value or "").lower().startswith(SAFE_SCHEMES):
                problems.append(f"{tag} {name}={value}")
    return problems


def renderings(text: str) -> dict[str, str]:
    commonmark = MarkdownIt("commonmark")
    commonmark.validateLink = lambda url: True  # judge the notes, not the renderer's own filter
    return {"CommonMark": commonmark.render(text), "Python-Markdown": markdown.markdown(text)}


def test_the_archived_notes_are_inert_in_commonmark_and_python_markdown(bot, tmp_path):
    lines = ["/as eve", "/meeting profile <img src=x onerror=alert(1)> / [x](javascript:alert(1))",
             "/meeting here", "/meeting remind"]
    lines += HOSTILE  # replies in the call for updates' thread
    for number, text in enumerate(HOSTILE, 1):
        lines += [f"/as p{number}", f"/update {text}", f"/celebrate {text}", f"/agenda add (~1min) {text}"]
    lines += ["/meeting start"]
    lines += [f"/agenda note 1 {text}" for text in HOSTILE]
    lines += [f"/meeting action @eve {text}" for text in HOSTILE] + ["/meeting end"]
    bot.say(*lines)
    archived = (tmp_path / "archive" / "hubs" / "2022-07-19.md").read_text()
    assert archived.count("onerror") >= len(HOSTILE)  # the words are all there, as text
    for renderer, html in renderings(archived).items():
        assert live_html(html) == [], renderer
        assert 'href="javascript' not in html.lower() and "src=\"javascript" not in html.lower(), renderer
        assert "evil.example/phish" in html and "github.com/jupyterhub</a>" not in html, renderer


def test_reference_links_and_autolinks_stay_links():
    line = md.inline("see [the notes](https://x.org/a?b=1&c=2), <https://y.org> and https://z.org")
    for renderer, html in renderings(line).items():
        assert html.count("<a href=") == 3, renderer


@pytest.mark.parametrize("label", ["https://github.com/jupyterhub", "github.com/jupyterhub", "www.github.com",
                                   "HTTP://GITHUB.COM", "mailto:me@example.org", "docs.jupyter.org"])
def test_a_link_whose_label_reads_as_an_address_shows_where_it_goes(label):
    text = f"[{label}](http://evil.example/phish)"
    neutral = md.inline(text)
    assert "<http://evil.example/phish>" in neutral and label not in neutral
    assert mrkdwn(text) == "<http://evil.example/phish>"  # also when it did not pass inline()
    assert discord_text(text) == "<http://evil.example/phish>"
    assert "http://evil.example/phish" in terminal_text(neutral)
    for html in renderings(neutral).values():
        assert f">{label}<" not in html and "http://evil.example/phish</a>" in html


def test_a_plain_label_stays_a_label():
    assert md.inline("[the notes](https://x.org)") == "[the notes](https://x.org)"
    assert mrkdwn("[the notes](https://x.org)") == "<https://x.org|the notes>"
    assert md.inline("[Z2JH 2.0](https://x.org)") == "[Z2JH 2.0](https://x.org)"


def test_entities_show_as_the_characters_people_typed():
    typed = "a <b> & &lt; c"
    neutral = md.inline(typed)
    assert terminal_text(neutral) == typed
    assert mrkdwn(neutral) == "a &lt;b&gt; &amp; &amp;lt; c"  # Slack shows: a <b> & &lt; c
    assert discord_text(neutral) == typed
    assert discord_text(md.inline("hi <@123> <#456> <t:1:R>")) == "hi \\<@123> \\<#456> \\<t:1:R>"
    for html in renderings(neutral).values():
        assert "a &lt;b&gt; &amp; &amp;lt; c" in html


MENTION = "<@UEVIL>"


def _answer(bot, actor: Actor, command: str, text: str) -> str:
    (answer,) = bot.engine.handle(CommandCall(actor, Place("terminal", "hubs"), command, text))
    return answer.text


def test_answers_never_echo_a_raw_mention(bot):
    me = Actor("slack", "UME", "Me")
    answers = [
        _answer(bot, me, "meeting", f"profile {MENTION} / {MENTION} inc"),  # the profile line
        _answer(bot, me, "meeting", "here"),  # the roll call
        _answer(bot, me, "agenda", f"add (~5min) {MENTION} item"),
        _answer(bot, me, "agenda", f"add (~5min) {MENTION} item again"),  # grouped with it
        _answer(bot, me, "agenda", f"add (~5min) another {MENTION}"),
        _answer(bot, me, "agenda", "move 3 1"),
        _answer(bot, me, "agenda", f"note 1 {MENTION}"),
        _answer(bot, me, "meeting", f"action <@UME> ask {MENTION}"),
        _answer(bot, me, "agenda", "defer 1"),
        _answer(bot, me, "agenda", "remove 1"),
        _answer(bot, me, "meeting", "end"),  # carries the item without notes over
    ]
    raw = [t for t in answers if MENTION in t or MENTION in mrkdwn(t)
           or MENTION in discord_text(t).replace("\\" + MENTION, "")]  # Discord shows `\<@U>` as text
    assert raw == []
    assert "Carried 1 items" in answers[-1] and "UEVIL" in answers[-1]
    assert "UEVIL" in bot.notes(date(2022, 8, 16))
