"""Neutral Markdown to Slack mrkdwn, and the cutting into blocks and messages."""

from __future__ import annotations

import re

from adapters.slack.render import (
    MAX_BLOCKS,
    MESSAGE_BLOCK_CHARS,
    SECTION_CHARS,
    block_messages,
    mrkdwn,
    render,
)
from chatbot.events import Post
from chatbot.text.markdown import ZWSP


def test_markdown_constructs_become_mrkdwn():
    assert mrkdwn("**Call for updates** _soon_ ~~old~~") == "*Call for updates* _soon_ ~old~"
    assert mrkdwn("[the notes](https://x.org/a?b=1&c=2) and <https://y.org/p?q=1&r=2>") == (
        "<https://x.org/a?b=1&amp;c=2|the notes> and <https://y.org/p?q=1&amp;r=2>")
    assert mrkdwn("<time:1658250000|Tuesday 19 July 2022 17:00 UTC>") == (
        "<!date^1658250000^{date_long} {time}|Tuesday 19 July 2022 17:00 UTC>")
    assert mrkdwn("use <#C0123456789> & a < b > c") == "use <#C0123456789> &amp; a &lt; b &gt; c"
    assert mrkdwn("# Title\n## Part **two**\n- item\n    - nested") == "*Title*\n*Part two*\n• item\n    • nested"


def test_code_and_escapes_stay_literal():
    assert mrkdwn("`/agenda add (~5min) <title>`") == "`/agenda add (~5min) &lt;title&gt;`"
    assert mrkdwn("```\n**not bold** <b>\n```") == "```\n**not bold** &lt;b&gt;\n```"
    assert mrkdwn(r"\<@U123> \# not a heading") == "&lt;@U123&gt; # not a heading"


def test_channel_pings_are_neutralised_everywhere():
    rendered = mrkdwn("<!channel> <!here|here> <!everyone> @channel @here @everyone "
                      "[<!channel>](https://x.org) <time:1|@here>")
    assert not re.search(r"<!(channel|here|everyone)|(?<!\u200b)@(channel|here|everyone)", rendered)
    assert rendered.count("@" + ZWSP) == 8


def test_labels_cannot_end_a_link_early():
    assert mrkdwn("[a|b>c](https://x.org)") == "<https://x.org|a/b&gt;c>"


def test_block_messages_stay_inside_slack_limits():
    text = "\n".join(f"*Person {n}* " + "x" * 250 for n in range(2000))
    messages = block_messages(text)
    assert len(messages) > 1
    for message in messages:
        assert 1 <= len(message.blocks) <= MAX_BLOCKS <= 50
        assert sum(len(b["text"]["text"]) for b in message.blocks) <= MESSAGE_BLOCK_CHARS
        assert all(len(b["text"]["text"]) <= SECTION_CHARS <= 3000 for b in message.blocks)
        assert len(message.text) <= 3000
    assert "\n".join(b["text"]["text"] for m in messages for b in m.blocks) == text


def test_a_digest_is_blocks_and_other_posts_are_text():
    (digest,) = render(Post("k", "digest", "slack", "C1", "**Notes**\n- a"))
    assert digest.blocks == ({"type": "section", "text": {"type": "mrkdwn", "text": "*Notes*\n• a"}},)
    (call,) = render(Post("k", "call_for_updates", "slack", "C1", "**Call** <!channel>"))
    assert call.blocks is None and call.text == f"*Call* @{ZWSP}channel"
    assert len(render(Post("k", "notice", "slack", "C1", "y " * 40_000))) == 3
