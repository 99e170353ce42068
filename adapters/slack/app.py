"""The Slack adapter: bolt listeners that ack first and then hand events to the core, a catch-up
at start on what the threads of recent meetings show, and the delivery that posts the outbox's
messages, digest and notes file to Slack.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Iterable

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import IntegrityError

from adapters.slack import render, translate
from chatbot.app import StartupError
from chatbot.commands import GROUPS
from chatbot.events import SLACK, Answer, Delivered, Event, Place, Post, Reply, ReplyEdited

log = logging.getLogger(__name__)

# Slack wants an answer to a slash command within 3 s; past this the answer follows via response_url.
ACK_BUDGET = 2.0
NAME_TIMEOUT = 1.0
BATCH = 256  # thread events applied in one go when they come in faster than they are stored
# A batch costs a few transactions whatever its size; gathering for a moment keeps a burst of
# replies from paying them once per reply. People do not notice 50 ms.
LINGER = 0.05
# Replies rarely queue posts (only after the digest went out), so a stream of them asks the outbox
# to look at most this often rather than once per batch.
KICK_EVERY = 0.1
RECORD_WAIT = 60.0  # seconds after a post a reply under it may wait for the outbox to record it
CATCH_UP_BUDGET = 30.0  # seconds the start may spend reading the threads of recent meetings
THREAD_PAGE = 200  # messages per conversations.replies call
METADATA_TYPE = "chatbot_post"
# The outbox keeps a post's ids as one list: the notes file's id goes in it with this prefix, so a
# later edit (after a restart too) knows which file to replace.
FILE = "file:"
_REFUSED = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
            "not_allowed_token_type", "missing_scope"}


class SlackSetupError(StartupError):
    """Missing, inconsistent or refused Slack credentials; the message names the variable."""


def _split_ids(extra_ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """The further message ids of a post, and the ids of the files it shared."""
    parts = [i for i in extra_ids if not i.startswith(FILE)]
    return parts, [i.removeprefix(FILE) for i in extra_ids if i.startswith(FILE)]


def _join_ids(parts: Iterable[str], files: Iterable[str]) -> tuple[str, ...]:
    return (*parts, *(FILE + f for f in files))


def _secret(value) -> str:
    return value.get_secret_value() if value is not None else ""


class SlackDelivery:
    """Posts outbox rows to Slack; a Slack error raises, so the outbox keeps the row for a retry."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        # Steps of a post that already went out when a later step failed: key -> message ts.
        self._done: OrderedDict[str, str] = OrderedDict()
        # Threads opened by this process whose posts the outbox may not have recorded yet.
        self.opened: OrderedDict[str, float] = OrderedDict()

    async def post(self, post: Post) -> Delivered:
        messages = render.render(post)
        parts, files = _split_ids(post.extra_ids)
        if post.edit_of:
            extras = await self._edit(post, parts, messages)
            if post.attachment is not None:
                files = [await self._replace_file(post, files)]
            return Delivered(post.edit_of, _join_ids(extras, files))
        first = await self._send(post, messages[0], post.key, post.thread_of)
        if post.opens_thread:
            self.opened[first] = time.monotonic()
            while len(self.opened) > 1000:
                self.opened.popitem(last=False)
        extras = [await self._send(post, message, f"{post.key}#{n}", first)
                  for n, message in enumerate(messages[1:], 2)]
        if post.attachment is not None:  # an earlier attempt may have shared it before failing
            found = await self._shared(post, None, after=first) if post.maybe_sent else []
            files = found[-1:] or [await self._upload(post, thread_ts=None)]
        for key in [post.key] + [f"{post.key}#{n}" for n in range(2, len(messages) + 1)]:
            self._done.pop(key, None)
        return Delivered(first, _join_ids(extras, files))

    def _remember(self, key: str, ts: str) -> None:
        self._done[key] = ts
        while len(self._done) > 1000:
            self._done.popitem(last=False)

    async def _send(self, post: Post, message: render.Message, key: str, thread_of: str | None) -> str:
        if key in self._done:
            return self._done[key]
        if post.maybe_sent:
            found = await self._find(post.channel, key, thread_of)
            if found:
                self._remember(key, found)
                return found
        response = await self.client.chat_postMessage(
            channel=post.channel, text=message.text,
            blocks=list(message.blocks) if message.blocks is not None else None,
            thread_ts=thread_of, unfurl_links=False, unfurl_media=False,
            metadata={"event_type": METADATA_TYPE, "event_payload": {"key": key}},
        )
        self._remember(key, response["ts"])
        return response["ts"]

    async def _recent(self, channel: str, thread_of: str | None) -> list[dict]:
        if thread_of:
            response = await self.client.conversations_replies(channel=channel, ts=thread_of, limit=200,
                                                               include_all_metadata=True)
        else:
            response = await self.client.conversations_history(channel=channel, limit=100,
                                                               include_all_metadata=True)
        return response.get("messages", [])

    async def _find(self, channel: str, key: str, thread_of: str | None) -> str | None:
        """The ts of a message an earlier attempt posted with this key, if Slack has it."""
        for message in await self._recent(channel, thread_of):
            metadata = message.get("metadata") or {}
            if (metadata.get("event_type") == METADATA_TYPE
                    and (metadata.get("event_payload") or {}).get("key") == key):
                return message["ts"]
        return None

    async def _shared(self, post: Post, thread_of: str | None, after: str = "0") -> list[str]:
        """The ids of the notes files shared in the channel (or a thread) after a message."""
        name = post.attachment.filename
        return [f["id"] for m in await self._recent(post.channel, thread_of) if float(m.get("ts", 0)) > float(after)
                for f in m.get("files") or () if f.get("name") == name]

    async def _upload(self, post: Post, *, thread_ts: str | None, comment: str | None = None) -> str:
        attachment = post.attachment
        response = await self.client.files_upload_v2(
            channel=post.channel, content=attachment.content.encode("utf-8"),
            filename=attachment.filename, title=attachment.filename,
            thread_ts=thread_ts, initial_comment=comment,
        )
        return response["files"][0]["id"]

    async def _replace_file(self, post: Post, earlier: list[str]) -> str:
        """Share the notes again in the digest's thread, then delete every earlier copy: the one
        recorded, and any that an attempt which failed before it was recorded left in the thread,
        so that readers see one current file. Uploading first means the notes are never missing."""
        current = await self._upload(post, thread_ts=post.edit_of,
                                     comment="Updated notes, with the changes made since the digest.")
        for file_id in dict.fromkeys([*earlier, *await self._shared(post, post.edit_of)]):
            if file_id != current:
                await self._delete_file(file_id)
        return current

    async def _delete_file(self, file_id: str) -> None:
        try:
            await self.client.files_delete(file=file_id)
        except SlackApiError as error:
            # Deleted by hand already, or a person's file of the same name: nothing to remove.
            if error.response.get("error") not in ("file_not_found", "file_deleted", "cant_delete_file"):
                raise

    async def _edit(self, post: Post, parts: list[str], messages: list[render.Message]) -> tuple[str, ...]:
        """Replace an earlier post in place; parts it no longer needs are deleted, new ones added."""
        ids = [post.edit_of, *parts]
        for index, message in enumerate(messages):
            if index < len(ids):
                await self.client.chat_update(
                    channel=post.channel, ts=ids[index], text=message.text,
                    blocks=list(message.blocks) if message.blocks is not None else None,
                )
            else:
                ids.append(await self._send(post, message, f"{post.key}#{index + 1}", post.edit_of))
        for ts in ids[len(messages):]:
            try:
                await self.client.chat_delete(channel=post.channel, ts=ts)
            except SlackApiError as error:
                if error.response.get("error") != "message_not_found":
                    raise
        return tuple(ids[1:len(messages)])


class People:
    """Display names from users.info, cached for an hour; a slow or failed look-up is skipped."""

    def __init__(self, client: AsyncWebClient, *, size: int = 4096, ttl: float = 3600.0) -> None:
        self.client = client
        self.size = size
        self.ttl = ttl
        self._names: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._pending: dict[str, asyncio.Future] = {}

    def cached(self, user_ids: Iterable[str]) -> dict[str, str]:
        now = time.monotonic()
        return {u: found[1] for u in user_ids if (found := self._names.get(u)) is not None and found[0] > now}

    async def names(self, user_ids: Iterable[str], timeout: float = NAME_TIMEOUT) -> dict[str, str]:
        names = self.cached(user_ids)
        missing = [u for u in dict.fromkeys(user_ids) if u and u not in names]
        if missing:
            found = await asyncio.gather(*(self.name(u, timeout) for u in missing))
            names.update((u, n) for u, n in zip(missing, found) if n)
        return names

    async def name(self, user_id: str, timeout: float = NAME_TIMEOUT) -> str | None:
        cached = self._names.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        task = self._pending.get(user_id)
        if task is None:
            task = self._pending[user_id] = asyncio.ensure_future(self._fetch(user_id))
            task.add_done_callback(lambda _: self._pending.pop(user_id, None))
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return None

    async def _fetch(self, user_id: str) -> str | None:
        try:
            user = (await self.client.users_info(user=user_id))["user"]
        except Exception as error:  # an unknown user or Slack unavailable: go without the name
            log.info("users.info %s failed: %s", user_id, error)
            return None
        profile = user.get("profile") or {}
        name = (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
                or user.get("name") or "")
        if name:
            self._names[user_id] = (time.monotonic() + self.ttl, name)
            self._names.move_to_end(user_id)
            while len(self._names) > self.size:
                self._names.popitem(last=False)
        return name or None


class _KeyedLocks:
    """One lock per key, dropped when unused."""

    def __init__(self) -> None:
        self._locks: dict[str, list] = {}

    async def run(self, key: str, work):
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                return await work()
        finally:
            entry[1] -= 1
            if not entry[1]:
                self._locks.pop(key, None)


def _answer_payload(answers: list[Answer]) -> dict:
    text = "\n\n".join(render.mrkdwn(a.text) for a in answers) or " "
    return {"text": text, "response_type": "in_channel" if any(a.public for a in answers) else "ephemeral"}


class SlackAdapter:
    """Slack in Socket Mode (app token) or over HTTP (signing secret), around one engine."""

    platform = SLACK

    def __init__(self, runtime, *, host: str = "0.0.0.0", port: int | None = None) -> None:
        settings = runtime.settings
        bot_token = _secret(settings.slack_bot_token)
        app_token = _secret(settings.slack_app_token)
        signing_secret = _secret(settings.slack_signing_secret)
        if not bot_token:
            raise SlackSetupError("SLACK_BOT_TOKEN is missing: the Slack adapter needs the bot token "
                                  "(xoxb-...)")
        if not (app_token or signing_secret):
            raise SlackSetupError("SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) "
                                  "is missing beside SLACK_BOT_TOKEN")
        self.runtime = runtime
        self.engine = runtime.engine
        self.socket_mode = bool(app_token)
        self._app_token = app_token
        self.host = host
        self.port = settings.port if port is None else port
        self.client = AsyncWebClient(
            token=bot_token, base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
            retry_handlers=[*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
        )
        self.delivery = SlackDelivery(self.client)
        self.people = People(self.client)
        self.channels = frozenset(
            c for s in runtime.config.series if (t := s.targets.get("slack")) is not None
            for c in (t.channel, t.digest_channel) if c
        )
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
        self._locks = _KeyedLocks()
        self._work: set[asyncio.Task] = set()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._pending = 0  # queued or being stored
        self._settled = asyncio.Event()
        self._applier: asyncio.Task | None = None
        self._caught_up = asyncio.Event()  # the applier stores live events only after the catch-up
        self._kick_later: asyncio.TimerHandle | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._closed = asyncio.Event()
        self.bot_user_id = ""
        self._recorded_threads: OrderedDict[str, None] = OrderedDict()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the credentials with Slack, connect (Socket Mode) or listen (HTTP), then catch up
        on the threads of recent meetings."""
        self._applier = asyncio.ensure_future(self._apply_queued())
        try:
            self.bot_user_id = (await self.client.auth_test())["user_id"]
        except SlackApiError as error:
            code = error.response.get("error")
            if code in _REFUSED:
                raise SlackSetupError(f"SLACK_BOT_TOKEN was refused by Slack ({code}); copy the bot "
                                      "token (xoxb-...) from the app's OAuth & Permissions page") from None
            raise
        await self._listen()
        await self._catch_up()

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
        app = self.bolt.web_app(path="/slack/events", port=self.port)
        app.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        log.info("slack: listening for events on http://%s:%s/slack/events", self.host, self.port)

    async def _catch_up(self) -> None:
        """Apply what Slack shows in each open thread: replies posted, edited or deleted while the
        bot was away, or lost in a crash between an ack and the store.

        The listeners are already up, so nothing posted from now on is missed; the live events
        they queue meanwhile are stored after the catch-up, so a reading of a thread taken before
        them cannot undo them. Seen again, a reply or an unchanged edit changes nothing.
        """
        try:
            deadline = time.monotonic() + CATCH_UP_BUDGET
            for place in await asyncio.to_thread(self.engine.open_threads, SLACK):
                try:
                    replies = await asyncio.wait_for(self._thread_replies(place),
                                                     max(deadline - time.monotonic(), 0))
                except Exception as error:  # Slack refused, the channel is gone, out of time
                    reason = (error.response.get("error") if isinstance(error, SlackApiError)
                              else str(error) or type(error).__name__)
                    log.warning("slack: could not catch up on thread %s in %s: %s",
                                place.thread, place.channel, reason)
                    continue
                try:
                    answers = await asyncio.to_thread(self.engine.catch_up, place, replies)
                except Exception:
                    log.exception("slack: catching up on thread %s in %s failed", place.thread, place.channel)
                    continue
                log.info("slack: caught up on thread %s in %s (%s replies, %s refused)", place.thread,
                         place.channel, len(replies), sum(1 for a in answers if a))
        finally:
            self._caught_up.set()
        self._kick_outbox()  # a late change queued an edit of the digest and a notice

    async def _thread_replies(self, place: Place) -> list[Reply]:
        """The people's replies in a thread now, oldest first, all pages."""
        messages, cursor = [], None
        while True:
            page = await self.client.conversations_replies(channel=place.channel, ts=place.thread,
                                                           cursor=cursor, limit=THREAD_PAGE)
            messages += page.get("messages", [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        replies = [m for m in messages if translate.message_to_reply(place.channel, m)]
        names = await self.people.names([u for m in replies for u in translate.people_in(m)])
        return [translate.message_to_reply(place.channel, m, names) for m in replies]

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
        if self._kick_later is not None:
            self._kick_later.cancel()
        if self._applier is not None:
            self._applier.cancel()
            await asyncio.gather(self._applier, return_exceptions=True)
            self._applier = None

    async def idle(self) -> None:
        """Wait until the work started by events so far, and the posts it queued, are done."""
        while self._work or self._pending:
            if self._work:
                await asyncio.gather(*self._work, return_exceptions=True)
            else:
                await self._settled.wait()
        if self._kick_later is not None:
            self._kick_outbox()
        await self.runtime.dispatcher.idle()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # -- listeners -------------------------------------------------------------------------------

    async def _on_command(self, ack, body: dict, respond) -> None:
        work = asyncio.ensure_future(self._command_answers(body))
        try:
            answers = await asyncio.wait_for(asyncio.shield(work), ACK_BUDGET)
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
        self._kick_outbox()

    async def _command_answers(self, body: dict) -> list[Answer]:
        try:
            names = await self.people.names(translate.people_in(body))
            event = translate.command_to_event(body, names)
            key = f"command:{body['trigger_id']}" if body.get("trigger_id") else None
            log.info("slack command /%s by %s in %s", event.command, event.actor.user_id, event.place.channel)
            return await asyncio.to_thread(self._handle, key, event) or []
        except Exception:
            log.exception("slack command failed")
            return [Answer("Something went wrong on our side and nothing was changed; please try "
                           "again in a minute.", ok=False)]

    async def _on_message(self, body: dict) -> None:
        # bolt has already acked: Slack is answered, this is the after-ack work.
        event = body["event"]
        if str(event.get("channel", "")) not in self.channels:
            return
        people = translate.people_in(event)
        names = self.people.cached(people)
        core_event = translate.to_event(event, names)
        if core_event is None:
            return
        task = asyncio.current_task()
        self._work.add(task)
        try:
            if len(names) < len(people):
                core_event = translate.to_event(event, await self.people.names(people))
            log.info("slack %s %s in %s", type(core_event).__name__, core_event.message_id,
                     core_event.place.channel)
            thread = core_event.place.thread
            if self._maybe_unrecorded(event, thread):
                # Events in the thread wait their turn, so they are still stored in arrival order.
                await self._locks.run(thread, lambda: self._recorded(thread))
            self._enqueue(body.get("event_id"), core_event)
        except Exception:
            log.exception("slack message event %s failed", body.get("event_id"))
            await self._tell(translate.to_event(event), [Answer(
                "Your message could not be saved because of an error on our side; please post it "
                "again in a minute.", ok=False)])
        finally:
            self._work.discard(task)

    def _maybe_unrecorded(self, event: dict, thread: str | None) -> bool:
        """Whether the thread is the bot's own, opened so recently that the outbox may not have
        recorded its post yet (Slack can deliver a reply before chat.postMessage has answered)."""
        if not thread:
            return False
        if thread in self.delivery.opened:
            return True
        if thread in self._recorded_threads:
            return False
        parent = translate.thread_parent_author(event)
        return bool(parent) and parent == self.bot_user_id and time.time() - float(thread) < RECORD_WAIT

    async def _recorded(self, thread: str) -> None:
        """The engine reads replies only under posts it knows: wait for the record."""
        delay, deadline = 0.005, float(thread) + RECORD_WAIT
        while not await asyncio.to_thread(self.engine.knows_post, SLACK, thread):
            if time.time() > deadline:
                log.warning("slack: the post that opened thread %s is still not recorded", thread)
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
        self.delivery.opened.pop(thread, None)
        self._recorded_threads[thread] = None
        while len(self._recorded_threads) > 1000:
            self._recorded_threads.popitem(last=False)

    async def _on_other_event(self) -> None:
        return None  # subscribed by mistake or new: acked, so Slack does not retry it

    def _enqueue(self, key: str | None, event: Event) -> None:
        """Queue a thread event for the applier, which answers its author if there is a need."""
        self._pending += 1
        self._settled.clear()
        self._queue.put_nowait((key, event))

    async def _apply_queued(self) -> None:
        """One applier takes the queued events in arrival order, as many as are waiting, and
        stores them in one worker-thread call: a busy thread costs a few transactions, not one
        per reply, and the event loop stays free to ack."""
        await self._caught_up.wait()
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(LINGER)
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await asyncio.to_thread(self._apply, batch)
            except Exception:
                log.exception("slack: storing %s events failed", len(batch))
                results = [[Answer("Your message could not be saved because of an error on our side; "
                                   "please post it again in a minute.", ok=False)]] * len(batch)
            for (_, event), answers in zip(batch, results):
                if answers:
                    self._track(self._tell(event, answers))
            self._pending -= len(batch)
            if not self._pending:
                self._settled.set()
            self._kick_outbox_soon()  # a late reply queues an edit of the digest and a notice

    def _track(self, work) -> None:
        task = asyncio.ensure_future(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    def _apply(self, items: list[tuple[str | None, Event]]) -> list[list[Answer] | None]:
        """Runs in a worker thread: claim each event once, then apply the new ones in order."""
        keys = [key for key, _ in items if key]
        fresh = iter(self.engine.claim_events(SLACK, keys))
        claimed = [not key or next(fresh) for key, _ in items]
        events = [event for (_, event), new in zip(items, claimed) if new]
        try:
            applied = iter(self.engine.handle_many(events))
        except Exception:  # find the one that fails; the others still count
            log.exception("slack: applying %s events together failed; one by one now", len(events))
            applied = iter([self._apply_one(event) for event in events])
        results: list[list[Answer] | None] = []
        for (key, _), new in zip(items, claimed):
            if not new:
                log.info("slack: dropped a repeated delivery of %s", key)
            results.append(next(applied) if new else None)
        return results

    def _apply_one(self, event: Event) -> list[Answer] | None:
        try:
            return self.engine.handle(event)
        except IntegrityError:  # the same message under another event id: it is stored already
            log.info("slack: %s %s was already applied", type(event).__name__, getattr(event, "message_id", ""))
            return None
        except Exception:
            log.exception("slack: %s failed", type(event).__name__)
            return [Answer("Your message could not be saved because of an error on our side; please "
                           "post it again in a minute.", ok=False)]

    def _handle(self, key: str | None, event: Event) -> list[Answer] | None:
        """Runs in a worker thread: claim the event once, then apply it (None: seen before)."""
        if key and not self.engine.claim_event(SLACK, key):
            log.info("slack: dropped a repeated delivery of %s", key)
            return None
        try:
            return self.engine.handle(event)
        except IntegrityError:  # the same message under another event id: it is stored already
            log.info("slack: %s %s was already applied", type(event).__name__, getattr(event, "message_id", ""))
            return None

    async def _tell(self, event: Event | None, answers: list[Answer]) -> None:
        """Answers to a thread reply go back to its author only, in the thread."""
        if not answers or not isinstance(event, (Reply, ReplyEdited)) or event.actor is None:
            return
        try:
            await self.client.chat_postEphemeral(channel=event.place.channel, user=event.actor.user_id,
                                                 thread_ts=event.place.thread,
                                                 text=_answer_payload(answers)["text"])
        except SlackApiError as error:
            log.warning("could not answer %s: %s", event.actor.user_id, error.response.get("error"))

    def _kick_outbox(self) -> None:
        """Deliver what the engine queued (kicks during a delivery share the next round)."""
        if self._kick_later is not None:
            self._kick_later.cancel()
            self._kick_later = None
        self.runtime.dispatcher.kick()

    def _kick_outbox_soon(self) -> None:
        if self._kick_later is None:
            self._kick_later = asyncio.get_running_loop().call_later(KICK_EVERY, self._kick_outbox)


def create(runtime, **options) -> SlackAdapter:
    return SlackAdapter(runtime, **options)
