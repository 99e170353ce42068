"""The Slack adapter: bolt listeners that ack first and then hand events to the core, a catch-up
at start on what the threads of recent meetings show, and answers to whoever caused an event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render, translate
from adapters.slack.delivery import SlackDelivery
from adapters.slack.http import Endpoint
from adapters.slack.people import People
from chatbot.commands import GROUPS, UsageError
from chatbot.events import SLACK, Answer, Event, Place, Reply, ReplyEdited
from chatbot.ports import Batching, Core, Incoming, StartupError

log = logging.getLogger(__name__)

# Slack wants an answer to a slash command within 3 s; past this the answer follows via response_url.
ACK_BUDGET = 2.0
# Events come one HTTP request (or envelope) each: gathering them for a moment keeps a burst of
# replies from paying a transaction each. People do not notice 50 ms.
BATCHING = Batching(batch=256, transaction=256, quiet=0.05, burst_wait=0.05, record_wait=60.0)
CATCH_UP_BUDGET = 30.0  # seconds the start may spend reading the threads of recent meetings
THREAD_PAGE = 200  # messages per conversations.replies call
UNREAD = ("Your message could not be saved because of an error on our side; please post it again "
          "in a minute.")
_REFUSED = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
            "not_allowed_token_type", "missing_scope"}


class SlackSetupError(StartupError):
    """Missing, inconsistent or refused Slack credentials; the message names the variable."""


def _secret(value) -> str:
    return value.get_secret_value() if value is not None else ""


def _answer_payload(answers: list[Answer]) -> dict:
    text = "\n\n".join(render.mrkdwn(a.text) for a in answers) or " "
    return {"text": text, "response_type": "in_channel" if any(a.public for a in answers) else "ephemeral"}


class SlackAdapter:
    """Slack in Socket Mode (app token) or over HTTP (signing secret), in front of the core."""

    platform = SLACK

    def __init__(self, core: Core, *, host: str = "0.0.0.0", port: int | None = None,
                 ack_budget: float = ACK_BUDGET, thread_page: int = THREAD_PAGE,
                 catch_up_budget: float = CATCH_UP_BUDGET, batching: Batching = BATCHING) -> None:
        settings = core.settings
        bot_token = _secret(settings.slack_bot_token)
        app_token = _secret(settings.slack_app_token)
        signing_secret = _secret(settings.slack_signing_secret)
        if not bot_token:
            raise SlackSetupError("SLACK_BOT_TOKEN is missing: the Slack adapter needs the bot token "
                                  "(xoxb-...)")
        if not (app_token or signing_secret):
            raise SlackSetupError("SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) "
                                  "is missing beside SLACK_BOT_TOKEN")
        self.core = core
        self.socket_mode = bool(app_token)
        self._app_token = app_token
        self._signing_secret = signing_secret
        self.host = host
        self.port = settings.port if port is None else port
        self.ack_budget = ack_budget
        self.thread_page = thread_page
        self.catch_up_budget = catch_up_budget
        self.batching = batching
        self.client = AsyncWebClient(
            token=bot_token, base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
            retry_handlers=[*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
        )
        self.delivery = SlackDelivery(self.client)
        self.people = People(self.client)
        self.events = core.events(batching)
        self.channels = frozenset(core.channels())
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            process_before_response=False,  # bolt answers Slack at ack(); the work goes on after it
            ssl_check_enabled=not self.socket_mode,
            url_verification_enabled=not self.socket_mode,
            # Middleware for features this bot does not use, run on every request otherwise.
            # Translation drops every bot's messages, this bot's among them.
            ignoring_self_events_enabled=False,
            attaching_function_token_enabled=False,
            attaching_conversation_kwargs_enabled=False,
        )
        # Bolt tries listeners in order, building arguments for each: the busiest one goes first.
        self.bolt.event("message")(self._on_message)
        self.bolt.command(re.compile("^/(" + "|".join(map(re.escape, GROUPS)) + ")$"))(self._on_command)
        self.bolt.event(re.compile(r".*"))(self._on_other_event)
        self._work: set[asyncio.Task] = set()  # listeners' work after the ack, and answers
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._closed = asyncio.Event()
        self.bot_user_id = ""

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the credentials with Slack, connect (Socket Mode) or listen (HTTP), then catch up
        on the threads of recent meetings."""
        try:
            self.bot_user_id = (await self.client.auth_test())["user_id"]
        except SlackApiError as error:
            code = error.response.get("error")
            if code in _REFUSED:
                raise SlackSetupError(f"SLACK_BOT_TOKEN was refused by Slack ({code}); copy the bot "
                                      "token (xoxb-...) from the app's OAuth & Permissions page") from None
            raise
        await self._listen()
        await self._queue_catch_ups()
        await self.events.idle()

    async def _listen(self) -> None:
        if self.socket_mode:
            # The SDK retries a refused connection forever; ask for the first URL here, so that a
            # wrong app token stops the start instead.
            try:
                url = (await self.client.apps_connections_open(app_token=self._app_token))["url"]
            except SlackApiError as error:
                code = error.response.get("error")
                if code in _REFUSED:
                    raise SlackSetupError(f"SLACK_APP_TOKEN was refused by Slack ({code}); it must be an "
                                          "app-level token (xapp-...) with the connections:write scope") from None
                raise
            self._socket = AsyncSocketModeHandler(self.bolt, self._app_token, web_client=self.client)
            self._socket.client.wss_uri = url
            await self._socket.connect_async()
            log.info("slack: connected in Socket Mode")
            return
        app = web.Application()
        app.router.add_post("/slack/events", Endpoint(self.bolt, self._signing_secret).handle)
        app.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        log.info("slack: listening for events on http://%s:%s/slack/events", self.host, self.port)

    async def run(self) -> None:
        await self.start()
        await self._closed.wait()

    async def close(self) -> None:
        self._closed.set()
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.idle()
        await self.events.close()

    async def idle(self) -> None:
        """Wait until the work started by events so far, and the posts it queued, are done."""
        while self._work or not self.events.settled:
            if self._work:
                await asyncio.gather(*self._work, return_exceptions=True)
            else:
                await self.events.idle()
        await self.core.settle()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # -- catching up -----------------------------------------------------------------------------

    async def _queue_catch_ups(self) -> None:
        """Apply what Slack shows in each open thread: replies posted, edited or deleted while the
        bot was away, or lost in a crash between an ack and the store.

        The listeners are already up, so nothing posted from now on is missed; each thread is
        caught up on in its place among the live events, so a reading of a thread taken before
        them cannot undo them. Seen again, a reply or an unchanged edit changes nothing.
        """
        deadline = time.monotonic() + self.catch_up_budget
        turn = asyncio.Lock()  # one thread read at a time, kind to Slack's rate limits
        for place in await self.core.open_threads():
            self.events.catch_up(place, self._history(place, turn, deadline))

    async def _history(self, place: Place, turn: asyncio.Lock, deadline: float) -> list[Reply] | None:
        async with turn:
            try:
                return await asyncio.wait_for(self._thread_replies(place), max(deadline - time.monotonic(), 0))
            except Exception as error:  # Slack refused, the channel is gone, out of time
                reason = (error.response.get("error") if isinstance(error, SlackApiError)
                          else str(error) or type(error).__name__)
                log.warning("slack: could not catch up on thread %s in %s: %s",
                            place.thread, place.channel, reason)
                return None

    async def _thread_replies(self, place: Place) -> list[Reply]:
        """The people's replies in a thread now, oldest first, all pages."""
        messages, cursor = [], None
        while True:
            page = await self.client.conversations_replies(channel=place.channel, ts=place.thread,
                                                           cursor=cursor, limit=self.thread_page)
            messages += page.get("messages", [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        replies = [m for m in messages if translate.message_to_reply(place.channel, m)]
        names = await self.people.names([u for m in replies for u in translate.people_in(m)])
        return [translate.message_to_reply(place.channel, m, names) for m in replies]

    # -- listeners -------------------------------------------------------------------------------

    async def _on_command(self, ack, body: dict, respond) -> None:
        work = asyncio.ensure_future(self._command_answers(body))
        try:
            answers = await asyncio.wait_for(asyncio.shield(work), self.ack_budget)
        except (asyncio.TimeoutError, TimeoutError):
            await ack(text="Working on it…", response_type="ephemeral")
            answers = await work
            if answers:
                await respond(**_answer_payload(answers))
        else:
            if answers:
                await ack(**_answer_payload(answers))
            else:
                await ack()

    async def _command_answers(self, body: dict) -> list[Answer]:
        try:
            call = translate.command_to_event(body, await self.people.names(translate.people_in(body)))
        except UsageError as refusal:
            log.warning("slack command /%s refused: %s", str(body.get("command", "")).lstrip("/")[:40], refusal)
            return [Answer(str(refusal), ok=False)]
        except Exception:
            log.exception("slack command failed")
            return [Answer("Something went wrong on our side and nothing was changed; please try "
                           "again in a minute.", ok=False)]
        key = f"command:{body['trigger_id']}" if body.get("trigger_id") else None
        log.info("slack command /%s by %s in %s", call.command, call.actor.user_id, call.place.channel)
        return await self.events.submit(Incoming(call, key=key))

    async def _on_message(self, body: dict) -> None:
        # bolt has already acked: Slack is answered, this is the after-ack work.
        message = body["event"]
        if str(message.get("channel", "")) not in self.channels or translate.message_kind(message) is None:
            return
        task = asyncio.current_task()
        self._work.add(task)
        event = None
        try:
            event = translate.message_to_event(message, await self.people.names(translate.people_in(message)))
            log.info("slack %s %s in %s", type(event).__name__, event.message_id, event.place.channel)
            fresh = self._maybe_unrecorded(message, event.place.thread)
            self.events.enqueue(Incoming(event, key=body.get("event_id"), fresh_thread=fresh),
                                functools.partial(self._answer_in_thread, event))
        except Exception:
            log.exception("slack message event %s failed", body.get("event_id"))
            if event is not None:
                self._answer_in_thread(event, [Answer(UNREAD, ok=False)])
        finally:
            self._work.discard(task)

    def _maybe_unrecorded(self, message: dict, thread: str | None) -> bool:
        """Whether the thread is the bot's own, opened so recently that the outbox may not have
        recorded its post yet (Slack can deliver a reply before chat.postMessage has answered)."""
        if not thread:
            return False
        if thread in self.delivery.opened:
            return True
        parent = translate.thread_parent_author(message)
        return (bool(parent) and parent == self.bot_user_id
                and time.time() - float(thread) < self.batching.record_wait)

    async def _on_other_event(self) -> None:
        return None  # subscribed by mistake or new: acked, so Slack does not retry it

    def _answer_in_thread(self, event: Event, answers: list[Answer]) -> None:
        task = asyncio.ensure_future(self._tell(event, answers))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _tell(self, event: Event, answers: list[Answer]) -> None:
        """Answers to a thread reply go back to its author only, in the thread."""
        if not answers or not isinstance(event, (Reply, ReplyEdited)) or event.actor is None:
            return
        try:
            await self.client.chat_postEphemeral(channel=event.place.channel, user=event.actor.user_id,
                                                 thread_ts=event.place.thread,
                                                 text=_answer_payload(answers)["text"])
        except SlackApiError as error:
            log.warning("could not answer %s: %s", event.actor.user_id, error.response.get("error"))


def create(core: Core, **options) -> SlackAdapter:
    return SlackAdapter(core, **options)
