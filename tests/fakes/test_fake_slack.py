"""The fake Slack works with the real slack_sdk / slack_bolt clients over real HTTP and
WebSocket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import (
    BOT_USER_ID,
    FakeSlack,
    escape,
    event_callback,
    message_changed_event,
    message_deleted_event,
    message_event,
    signed_headers,
    slash_command_form,
)

CH = "C0123456789"
DIGEST = "C0987654321"


@pytest.fixture
async def slack():
    async with FakeSlack(channels={CH: "meetings", DIGEST: "meeting-digest"}) as fake:
        fake.add_user("U1", real_name="Ada Lovelace", display_name="ada", tz="Europe/London")
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)


# ----------------------------------------------------------------------------- Web API


async def test_post_thread_history_and_replies(slack: FakeSlack, client: AsyncWebClient):
    assert slack.base_url.endswith("/api/")
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "BBOT", slack.team_id)

    parent = await client.chat_postMessage(
        channel=CH,
        text="Call for updates",
        metadata={"event_type": "call_for_updates", "event_payload": {"series": "hubs"}},
    )
    assert parent["channel"] == CH and parent["message"]["text"] == "Call for updates"
    reply = await client.chat_postMessage(channel=CH, text="first reply", thread_ts=parent["ts"])
    # a reply to a reply lands in the parent's thread
    reply2 = await client.chat_postMessage(
        channel=CH, thread_ts=reply["ts"], text="b", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*b*"}}]
    )
    assert reply2["message"]["thread_ts"] == parent["ts"]
    assert float(parent["ts"]) < float(reply["ts"]) < float(reply2["ts"])

    msgs = slack.messages(CH)
    assert [m["ts"] for m in msgs] == [parent["ts"], reply["ts"], reply2["ts"]]
    assert msgs[0]["reply_count"] == 2 and msgs[0]["latest_reply"] == reply2["ts"]
    assert msgs[2]["blocks"][0]["text"]["text"] == "*b*"

    # a user replies too (stored in the fake's history)
    user_reply = slack.user_posts(CH, "U1", "my update <b> & more", thread_ts=parent["ts"])
    assert user_reply["text"] == "my update &lt;b&gt; &amp; more"

    history = await client.conversations_history(channel=CH)
    assert [m["ts"] for m in history["messages"]] == [parent["ts"]]  # top level only, newest first
    assert "metadata" not in history["messages"][0]
    history = await client.conversations_history(channel=CH, include_all_metadata=True)
    assert history["messages"][0]["metadata"]["event_payload"] == {"series": "hubs"}

    replies = await client.conversations_replies(channel=CH, ts=parent["ts"])
    assert [m["ts"] for m in replies["messages"]] == [parent["ts"], reply["ts"], reply2["ts"], user_reply["ts"]]
    page = await client.conversations_replies(channel=CH, ts=parent["ts"], oldest=reply["ts"], limit=2)
    assert [m["ts"] for m in page["messages"]] == [parent["ts"], reply2["ts"]]
    assert page["has_more"] is True and page["response_metadata"]["next_cursor"]

    top2 = await client.chat_postMessage(channel=CH, text="second top-level")
    history = await client.conversations_history(channel=CH, oldest=parent["ts"])
    assert [m["ts"] for m in history["messages"]] == [top2["ts"]]

    upd = await client.chat_update(channel=CH, ts=reply["ts"], text="edited")
    assert upd["text"] == "edited" and slack.messages(CH)[1]["text"] == "edited"
    await client.chat_delete(channel=CH, ts=reply["ts"])
    assert reply["ts"] not in [m["ts"] for m in slack.messages(CH)]
    assert slack.messages(CH)[0]["reply_count"] == 2

    await client.reactions_add(channel=CH, timestamp=user_reply["ts"], name="white_check_mark")
    assert slack.messages(CH, thread_ts=parent["ts"])[-1]["reactions"][0]["users"] == [BOT_USER_ID]

    eph = await client.chat_postEphemeral(channel=CH, user="U1", text="only you")
    assert slack.ephemerals[0]["text"] == "only you" and slack.ephemerals[0]["message_ts"] == eph["message_ts"]

    user = await client.users_info(user="U1")
    assert user["user"]["real_name"] == "Ada Lovelace"
    assert user["user"]["profile"]["display_name"] == "ada"
    assert user["user"]["tz"] == "Europe/London"
    info = await client.conversations_info(channel=CH)
    assert info["channel"]["name"] == "meetings"

    assert [m for m, _ in slack.calls].count("chat.postMessage") == 4
    assert slack.calls_to("chat.postMessage")[0]["text"] == "Call for updates"


async def test_user_edits_and_deletions_change_history(slack: FakeSlack, client: AsyncWebClient):
    parent = await client.chat_postMessage(channel=CH, text="Call for updates")
    reply = slack.user_posts(CH, "U1", "draft", thread_ts=parent["ts"])
    assert reply["parent_user_id"] == BOT_USER_ID
    changed = slack.user_edits(CH, reply["ts"], "final & done")
    assert changed["previous_message"]["text"] == "draft" and changed["message"]["text"] == "final &amp; done"
    replies = await client.conversations_replies(channel=CH, ts=parent["ts"])
    assert replies["messages"][1]["text"] == "final &amp; done" and "edited" in replies["messages"][1]
    deleted = slack.user_deletes(CH, reply["ts"])
    assert deleted["deleted_ts"] == reply["ts"] and deleted["previous_message"]["thread_ts"] == parent["ts"]
    replies = await client.conversations_replies(channel=CH, ts=parent["ts"])
    assert [m["ts"] for m in replies["messages"]] == [parent["ts"]]
    assert "reply_count" not in replies["messages"][0]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_errors_like_slack(slack: FakeSlack, client: AsyncWebClient):
    with pytest.raises(SlackApiError) as e:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.base_url).chat_postMessage(channel=CH, text="x")
    assert e.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as e:
        await client.api_call("chat.doesNotExist")
    assert e.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as e:
        await client.chat_postMessage(channel="CNOPE", text="x")
    assert e.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as e:
        await client.users_info(user="UNOBODY")
    assert e.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as e:
        await client.chat_postMessage(
            channel=CH, text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
        )
    assert e.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as e:
        await client.chat_postMessage(channel=CH, text="")
    assert e.value.response["error"] == "no_text"
    slack.fail("chat.update", "msg_too_long")
    posted = await client.chat_postMessage(channel=CH, text="y" * 40_005)
    assert len(posted["message"]["text"]) == 40_000
    with pytest.raises(SlackApiError) as e:
        await client.chat_update(channel=CH, ts=posted["ts"], text="z")
    assert e.value.response["error"] == "msg_too_long"


async def test_files_upload_v2_three_steps(slack: FakeSlack, client: AsyncWebClient):
    parent = await client.chat_postMessage(channel=DIGEST, text="digest")
    notes = "# Team Meeting\n\n- **Ada** shipped ✨\n"
    resp = await client.files_upload_v2(
        channel=DIGEST,
        content=notes,
        filename="2026-07-21.md",
        title="Notes 2026-07-21",
        initial_comment="Full notes attached",
        thread_ts=parent["ts"],
    )
    assert resp["file"]["title"] == "Notes 2026-07-21"
    assert [m for m, _ in slack.calls] == [
        "chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal",
    ]
    assert slack.calls_to("files.getUploadURLExternal")[0]["length"] == str(len(notes.encode()))
    (f,) = slack.files
    assert f["content"] == notes.encode() and f["text"] == notes
    assert (f["channel"], f["title"], f["filename"]) == (DIGEST, "Notes 2026-07-21", "2026-07-21.md")
    assert f["initial_comment"] == "Full notes attached" and f["thread_ts"] == parent["ts"]
    share = slack.messages(DIGEST)[-1]
    assert share["files"][0]["id"] == f["id"] and share["thread_ts"] == parent["ts"]


async def test_files_upload_v2_returns_the_file_id_and_files_delete_removes_the_share(
        slack: FakeSlack, client: AsyncWebClient):
    parent = await client.chat_postMessage(channel=DIGEST, text="digest")
    bare = await client.files_upload_v2(channel=DIGEST, content="one", filename="a.md", thread_ts=parent["ts"])
    commented = await client.files_upload_v2(channel=DIGEST, content="two", filename="b.md",
                                             thread_ts=parent["ts"], initial_comment="Updated notes")
    assert [f["id"] for f in bare["files"]] == [slack.files[0]["id"]]
    assert set(bare["files"][0]) == {"id", "title"}  # completeUploadExternal answers no more than that
    assert [f["id"] for f in slack.shared_files(DIGEST)] == [slack.files[0]["id"], slack.files[1]["id"]]

    deleted = await client.files_delete(file=bare["file"]["id"])
    assert deleted.data == {"ok": True}
    await client.files_delete(file=commented["file"]["id"])
    (left,) = slack.messages(DIGEST, thread_ts=parent["ts"])[1:]  # the share with text stays, file gone
    assert left["text"] == "Updated notes" and left["files"] == [{"id": commented["file"]["id"], "mode": "tombstone"}]
    assert slack.shared_files(DIGEST) == [] and [f["deleted"] for f in slack.files] == [True, True]

    theirs = slack.user_uploads(DIGEST, "U1", "a.md", "a person's file", thread_ts=parent["ts"])
    for file_id, error in [(bare["file"]["id"], "file_deleted"), ("F0NOSUCHFILE", "file_not_found"),
                           (theirs["id"], "cant_delete_file"), ("", "invalid_arguments")]:
        with pytest.raises(SlackApiError) as e:
            await client.files_delete(file=file_id)
        assert e.value.response["error"] == error
    slack.delete_file(theirs["id"])  # a person may delete their own
    assert slack.shared_files(DIGEST) == [] and slack.messages(DIGEST, thread_ts=parent["ts"])[1:] == [left]


async def test_429_then_success_with_rate_limit_retry_handler(slack: FakeSlack):
    client = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    started = time.monotonic()
    resp = await client.chat_postMessage(channel=CH, text="after a 429")
    assert resp["ok"] and time.monotonic() - started >= 1.0
    assert slack.count_429 == 1
    assert len(slack.calls_to("chat.postMessage")) == 2  # the rejected call and its retry
    assert [m["text"] for m in slack.messages(CH)] == ["after a 429"]

    slack.rate_limit("users.info", retry_after=7)  # without a retry handler: SlackApiError
    with pytest.raises(SlackApiError) as e:
        await AsyncWebClient(token=slack.bot_token, base_url=slack.base_url).users_info(user="U1")
    assert e.value.response.status_code == 429 and e.value.response.headers["Retry-After"] == "7"
    assert e.value.response["error"] == "ratelimited"


async def test_per_channel_rate_with_correct_retry_after(slack: FakeSlack, client: AsyncWebClient):
    now = [1000.0]
    slack.monotonic = lambda: now[0]
    slack.enforce_channel_rate(per_second=0.25, overall_per_second=50)
    await client.chat_postMessage(channel=CH, text="1")
    await client.chat_postMessage(channel=DIGEST, text="other channel is fine")
    with pytest.raises(SlackApiError) as e:
        await client.chat_postMessage(channel=CH, text="2")
    assert e.value.response.status_code == 429
    assert e.value.response.headers["Retry-After"] == "4"
    now[0] += 2.5
    with pytest.raises(SlackApiError) as e:
        await client.chat_postMessage(channel=CH, text="2")
    assert e.value.response.headers["Retry-After"] == "2"
    now[0] += 1.5
    await client.chat_postMessage(channel=CH, text="2")
    assert slack.count_429 == 2
    assert [m["text"] for m in slack.messages(CH)] == ["1", "2"]


# ----------------------------------------------------------------------------- Socket Mode


async def test_bolt_socket_mode_slash_command_and_event(slack: FakeSlack):
    app = AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.base_url))
    events: asyncio.Queue = asyncio.Queue()

    @app.command("/agenda")
    async def agenda(ack, command, respond):
        await ack(f"added: {command['text']}")
        await respond("agenda now has 1 item")

    @app.event("message")
    async def on_message(event, request):
        await events.put((event, request.headers.get("x-slack-retry-num")))

    handler = AsyncSocketModeHandler(app, slack.app_token)
    await handler.connect_async()
    try:
        await slack.wait_for_socket()
        assert slack.calls_to("apps.connections.open") == [{}]

        pending = await slack.send_command("/agenda", "add Release plan (~5min)", "U1", CH)
        ack = await pending
        assert ack == {"envelope_id": pending.envelope_id, "payload": {"text": "added: add Release plan (~5min)"}}
        form = pending.envelope["payload"]
        assert pending.envelope["accepts_response_payload"] is True
        later = await slack.wait_for_response(form["response_url"])
        assert later["text"] == "agenda now has 1 item"

        parent = await app.client.chat_postMessage(channel=CH, text="Call for updates")
        reply = slack.user_posts(CH, "U1", "shipped <things>", thread_ts=parent["ts"])
        pending = await slack.send_event(reply)
        assert await pending == {"envelope_id": pending.envelope_id}
        event, retry_num = await asyncio.wait_for(events.get(), 5)
        assert event["thread_ts"] == parent["ts"] and event["text"] == "shipped &lt;things&gt;"
        assert retry_num == ["0"]
        assert pending.envelope["payload"]["event_id"].startswith("Ev")

        # Slack's retry of the same event: same event_id, retry_attempt → x-slack-retry-num
        retry = await slack.send_event(pending.envelope["payload"], retry_attempt=1, retry_reason="timeout")
        await retry
        event, retry_num = await asyncio.wait_for(events.get(), 5)
        assert retry_num == ["1"] and retry.envelope["payload"]["event_id"] == pending.envelope["payload"]["event_id"]

        # Slack asks for a reconnect; the client opens a fresh connection and keeps working
        await slack.disconnect_socket()
        await slack.wait_for_socket(connections=2)
        pending = await slack.send_event(slack.user_posts(CH, "U1", "after reconnect"))
        await pending
        event, _ = await asyncio.wait_for(events.get(), 5)
        assert event["text"] == "after reconnect"
        assert slack.socket_pings >= 1  # the SDK pings right after connecting
    finally:
        await handler.close_async()


# ----------------------------------------------------------------------------- HTTP mode


async def test_bolt_http_mode_signed_and_unsigned(slack: FakeSlack):
    app = AsyncApp(
        client=AsyncWebClient(token=slack.bot_token, base_url=slack.base_url),
        signing_secret=slack.signing_secret,
    )
    seen: asyncio.Queue = asyncio.Queue()

    @app.event("message")
    async def on_message(event):
        await seen.put(event)

    @app.command("/meeting")
    async def meeting(ack, command):
        await ack(f"status for {command['user_id']}")

    runner = web.AppRunner(app.web_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        body = event_callback(message_event(CH, "U1", "hello"))
        status, _ = await slack.post_to_app(url, json_body=body)
        assert status == 200
        assert (await asyncio.wait_for(seen.get(), 5))["text"] == "hello"

        status, _ = await slack.post_to_app(url, json_body=body, signed=False)
        assert status == 401
        status, _ = await slack.post_to_app(url, json_body=body, timestamp=int(time.time()) - 600)
        assert status == 401
        status, _ = await slack.post_to_app(url, json_body=body, signing_secret="someone-else")
        assert status == 401

        status, text = await slack.post_to_app(url, form=slack.slash_command("/meeting", "", "U1", CH))
        assert status == 200 and text == "status for U1"  # bolt answers ack("...") as text/plain
    finally:
        await runner.cleanup()
    assert seen.empty()


# ----------------------------------------------------------------------------- payload helpers


def test_payload_helpers_have_slack_shapes():
    ev = message_event(CH, "U1", "a < b & c", thread_ts="1700000000.000100")
    assert ev["text"] == "a &lt; b &amp; c" and ev["ts"] != ev["thread_ts"]
    assert ev["blocks"][0]["elements"][0]["elements"] == [{"type": "text", "text": "a < b & c"}]
    raw = message_event(CH, "U1", f"<!channel> {escape('1 < 2')} <@U2>", escape_text=False)
    assert raw["text"] == "<!channel> 1 &lt; 2 <@U2>"
    assert [e["type"] for e in raw["blocks"][0]["elements"][0]["elements"]] == ["broadcast", "text", "user"]

    changed = message_changed_event(CH, ev["ts"], "new <x>", "U1", thread_ts="1700000000.000100", previous_text="old")
    assert changed["subtype"] == "message_changed" and changed["hidden"] is True
    assert changed["message"]["text"] == "new &lt;x&gt;" and changed["previous_message"]["text"] == "old"
    assert changed["message"]["ts"] == ev["ts"] and changed["message"]["thread_ts"] == "1700000000.000100"
    assert "thread_ts" not in changed

    deleted = message_deleted_event(CH, ev["ts"], "1700000000.000100")
    assert deleted["subtype"] == "message_deleted" and deleted["hidden"] is True
    assert deleted["deleted_ts"] == ev["ts"] and deleted["previous_message"]["thread_ts"] == "1700000000.000100"

    cb1, cb2 = event_callback(ev), event_callback(ev)
    assert cb1["type"] == "event_callback" and cb1["event_id"] != cb2["event_id"]
    assert cb1["event_time"] == int(float(ev["ts"]))

    form = slash_command_form("/agenda", "add x", "U1", CH, "https://example.invalid/r")
    assert form["command"] == "/agenda" and all(isinstance(v, str) for v in form.values())

    body = b'{"a": 1}'
    headers = signed_headers("s3cret", body, timestamp=1_700_000_000)
    assert headers["X-Slack-Request-Timestamp"] == "1700000000"
    assert SignatureVerifier("s3cret").generate_signature(timestamp="1700000000", body=body) == headers["X-Slack-Signature"]
    fresh = signed_headers("s3cret", body)
    assert SignatureVerifier("s3cret").is_valid_request(body, fresh)
