"""The Discord adapter: gateway events through the core in order, the outbox's posts out through
discord.py, and the application command tree synced only when its definition changed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import io
import itertools
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import discord
import discord.gateway
import discord.http
import yarl
from sqlalchemy.exc import IntegrityError

from adapters.discord import translate
from adapters.discord.render import render
from chatbot.storage import store
from chatbot.app import StartupError
from chatbot.commands import UsageError
from chatbot.events import (
    DISCORD,
    Actor,
    Answer,
    Delivered,
    Event,
    Place,
    Post,
    Reply,
    ReplyDeleted,
    ReplyEdited,
)

log = logging.getLogger(__name__)

# Exactly what the bot does: read its channels and threads, post, open threads from its posts,
# attach the notes file, and look back through recent history before re-posting after a crash.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    attach_files=True,
    read_message_history=True,
)
SCOPES = ("bot", "applications.commands")
TREE_KEY = "discord.command_tree_hash"
NO_PINGS = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES = 10080  # a week: the call for updates goes out days before the meeting
BATCH = 4096  # events applied at once at most: a burst is applied when it is all read
TRANSACTION = 1000  # events applied in one transaction
QUIET = 0.001  # seconds without a new event that end a burst
BURST_WAIT = 0.25  # seconds a burst's first event waits at most for the rest
RECORD_WAIT = 30.0  # seconds to wait for the outbox to record a post whose thread has replies
THREAD_EXISTS = 160004
_API_VERSION = re.compile(r"/api/v\d+$")


def intents() -> discord.Intents:
    """Guilds and guild messages, plus message content: the one privileged intent, needed to
    read the updates people reply with in the bot's threads."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    return wanted


def api_base(url: str) -> str:
    """DISCORD_API_URL with or without the `/api/v10` suffix discord.py's routes expect."""
    url = url.rstrip("/")
    return url if _API_VERSION.search(url) else f"{url}/api/v10"


@contextlib.contextmanager
def pointed_at(settings) -> Iterator[None]:
    """discord.py's REST base and gateway address from the settings, restored afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_url:
        discord.http.Route.BASE = api_base(settings.discord_api_url)
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def invite_url(application_id: int) -> str:
    return (f"https://discord.com/oauth2/authorize?client_id={application_id}"
            f"&permissions={PERMISSIONS.value}&integration_type=0&scope={'+'.join(SCOPES)}")


def nonce_for(*parts: object) -> str:
    """A stable nonce (Discord allows 25 characters) so that a resend is answered with the
    message already created instead of a second one."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]


async def sync_commands(client: discord.Client, db, *, guild_id: int | None = None,
                        force: bool = True) -> bool:
    """Overwrite the application commands with the tree built from the command table.

    Unless forced, nothing is sent when the stored hash says this tree was already synced for
    this application: syncing on every start gets bots rate-limited.
    """
    tree = translate.command_tree()
    application_id = client.application_id
    digest = translate.tree_hash(application_id, tree)
    key = TREE_KEY if guild_id is None else f"{TREE_KEY}:guild:{guild_id}"

    def stored() -> str | None:
        with store.session_scope(db) as session:
            return store.get_value(session, key=key)

    def remember() -> None:
        with store.session_scope(db) as session:
            store.put_value(session, key=key, value=digest)

    if not force and await asyncio.to_thread(stored) == digest:
        log.info("discord command tree unchanged; not syncing")
        return False
    if guild_id is None:
        await client.http.bulk_upsert_global_commands(application_id, tree)
    else:
        await client.http.bulk_upsert_guild_commands(application_id, guild_id, tree)
    await asyncio.to_thread(remember)
    log.info("discord command tree synced (%s commands, %s)", len(tree),
             "global" if guild_id is None else f"guild {guild_id}")
    return True


class DiscordDelivery:
    """Posts from the outbox; any failure raises so the outbox keeps the row for a retry."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        # Threads opened by this process whose posts the outbox may not have recorded yet.
        self.opened: dict[int, float] = {}

    async def post(self, post: Post) -> Delivered:
        if self.client.user is None:
            raise RuntimeError("the Discord client is not logged in yet")
        chunks = render(post.text)
        if not chunks and post.attachment is None:
            raise ValueError(f"post {post.key} has nothing to send")
        channel = self.client.get_partial_messageable(int(post.thread_of or post.channel))
        if post.edit_of:
            ids = await self._edit(channel, post, chunks)
        else:
            ids = await self._already_sent(channel, chunks) if post.maybe_sent else []
            ids += await self._send(channel, post, chunks, start=len(ids))
            if post.opens_thread and not post.thread_of:
                await self._open_thread(channel.id, ids[0], post.opens_thread)
        return Delivered(str(ids[0]), tuple(str(i) for i in ids[1:]))

    def _file(self, post: Post) -> discord.File | None:
        if post.attachment is None:
            return None
        data = io.BytesIO(post.attachment.content.encode("utf-8"))
        return discord.File(data, filename=post.attachment.filename)

    async def _send(self, channel, post: Post, chunks: Sequence[str], *, start: int = 0) -> list[int]:
        parts = list(chunks) or [""]
        return [await self._send_part(channel, post, parts[i], last=i == len(parts) - 1,
                                      nonce=nonce_for(post.key, i))
                for i in range(start, len(parts))]

    async def _send_part(self, channel, post: Post, part: str, *, last: bool, nonce: str) -> int:
        """One message; the notes file rides on the last part, under the summary."""
        message = await channel.send(part or None, file=self._file(post) if last else None,
                                     allowed_mentions=NO_PINGS, nonce=nonce)
        return message.id

    async def _edit(self, channel, post: Post, chunks: Sequence[str]) -> list[int]:
        """Replace an earlier post in place; a digest that grew or shrank gains or loses parts."""
        existing = [int(post.edit_of), *(int(i) for i in post.extra_ids)]
        parts = list(chunks) or [""]
        ids: list[int] = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if index < len(existing):
                attachments = [self._file(post)] if last and post.attachment else []
                try:
                    message = await channel.get_partial_message(existing[index]).edit(
                        content=part or None, attachments=attachments, allowed_mentions=NO_PINGS)
                    ids.append(message.id)
                    continue
                except discord.NotFound:  # someone deleted that part: post it again
                    pass
            # The content is part of the nonce: a part sent by an earlier edit is not a resend.
            ids.append(await self._send_part(channel, post, part, last=last,
                                             nonce=nonce_for(post.key, index, part)))
        for surplus in existing[len(parts):]:
            with contextlib.suppress(discord.NotFound):
                await channel.get_partial_message(surplus).delete()
        return ids

    async def _already_sent(self, channel, chunks: Sequence[str]) -> list[int]:
        """The parts of this post an earlier, interrupted attempt got out, found in recent history."""
        if not chunks:
            return []
        me = self.client.user.id
        mine = [m async for m in channel.history(limit=50) if m.author.id == me][::-1]
        for index, message in enumerate(mine):
            if message.content == chunks[0]:
                ids = [message.id]
                for part, following in zip(chunks[1:], mine[index + 1:]):
                    if following.content != part:
                        break
                    ids.append(following.id)
                return ids
        return []

    async def _open_thread(self, channel_id: int, message_id: int, title: str) -> None:
        try:
            await self.client.http.start_thread_with_message(
                channel_id, message_id, name=title.strip()[:100] or "Replies",
                auto_archive_duration=THREAD_ARCHIVE_MINUTES)
        except discord.HTTPException as error:
            if error.code != THREAD_EXISTS:  # an earlier attempt opened it already
                raise
        self.opened[message_id] = time.monotonic()


class DiscordAdapter:
    """Feeds Discord events to the engine in the order the gateway sent them, and answers."""

    platform = DISCORD

    def __init__(self, runtime, **client_options) -> None:
        self.runtime = runtime
        self.engine = runtime.engine
        self.settings = runtime.settings
        options = dict(intents=intents(), max_messages=None, chunk_guilds_at_startup=False,
                       allowed_mentions=NO_PINGS, max_ratelimit_timeout=60.0)
        options.update(client_options)
        self.client = discord.Client(**options)
        self.delivery = DiscordDelivery(self.client)
        self.ready = asyncio.Event()
        self.handled = 0  # events the engine has applied, for benchmarks and operators
        self._channels = {int(c) for s in runtime.config.series if (t := s.targets.get("discord"))
                          for c in (t.channel, t.digest_channel) if c}
        self._answering: set[asyncio.Task] = set()
        self._reading: set[asyncio.Task] = set()  # threads' histories and authors' names, for catching up
        self._pending: collections.deque[tuple[Event | _CatchUp, Callable | asyncio.Future | None]] = \
            collections.deque()
        self._arrived: asyncio.Event | None = None
        self._applying = False  # a burst is being gathered or applied
        self._due: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._redirect: contextlib.ExitStack | None = None
        for handler in (self.on_ready, self.on_message, self.on_raw_message_edit,
                        self.on_raw_message_delete, self.on_raw_bulk_message_delete,
                        self.on_interaction):
            self.client.event(handler)

    # -- lifecycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        token = self.settings.discord_token
        if token is None:
            raise StartupError("DISCORD_TOKEN is missing: copy the token from the Bot page of the "
                               "application on the Discord developer portal")
        self._redirect = contextlib.ExitStack()
        self._redirect.enter_context(pointed_at(self.settings))
        self._arrived, self._due = asyncio.Event(), asyncio.Event()
        try:
            await self.client.login(token.get_secret_value())
        except discord.LoginFailure:
            raise StartupError("DISCORD_TOKEN was refused by Discord; copy the bot token again from "
                               "the Bot page of the application (Reset Token)") from None
        await sync_commands(self.client, self.runtime.db, force=False)
        self._tasks = [asyncio.create_task(self._work(), name="discord-events"),
                       asyncio.create_task(self._deliver(), name="discord-outbox")]
        try:
            await self.client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise StartupError("Discord refused the Message Content intent: turn on Message Content "
                               "Intent on the Bot page of the application; the bot reads the "
                               "replies in its threads") from None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for task in [*self._answering, *self._reading]:
            task.cancel()
        while self._pending:
            _cancel(self._pending.popleft()[1])
        if not self.client.is_closed():
            await self.client.close()
        if self._redirect is not None:
            self._redirect.close()
            self._redirect = None

    def kick(self) -> None:
        """Ask for the due outbox rows to be delivered (coalesced while a delivery runs)."""
        if self._due is not None:
            self._due.set()

    # -- the ordered event queue ------------------------------------------------------------------

    async def submit(self, event: Event) -> list[Answer]:
        """Apply an event after every event received before it; its answers come back."""
        future = asyncio.get_running_loop().create_future()
        self.enqueue(event, future)
        return await future

    @property
    def settled(self) -> bool:
        """No history being read for a catch-up, and no event waiting or being applied."""
        return not self._reading and not self._pending and not self._applying

    def enqueue(self, event: Event | _CatchUp,
                then: Callable[[list[Answer]], None] | asyncio.Future | None = None) -> None:
        """Like `submit`, without waiting: `then` gets the answers, when there are any."""
        self._pending.append((event, then))
        self._arrived.set()

    async def _work(self) -> None:
        while True:
            await self._arrived.wait()
            self._applying = True
            await self._burst()
            self._arrived.clear()
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), BATCH))]
            if self._pending:
                self._arrived.set()
            events = [event for event, _ in batch]
            try:
                await self._recorded(events)
                for event in events:
                    if isinstance(event, _CatchUp):
                        await event.history
                results = await asyncio.to_thread(self._apply, events)
            except asyncio.CancelledError:  # closing: nobody waits for these answers forever
                for _, then in batch:
                    _cancel(then)
                raise
            finally:
                self._applying = False
            self.handled += len(batch)
            for (_, then), answers in zip(batch, results):
                if isinstance(then, asyncio.Future):
                    if not then.done():
                        then.set_result(answers)
                elif then is not None and answers:
                    then(answers)
            self.kick()

    async def _burst(self) -> None:
        """Wait while events go on arriving, so that a burst is applied in a few large transactions
        once it is read, not in many small ones competing with its parsing for the interpreter."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BURST_WAIT
        while len(self._pending) < BATCH and loop.time() < deadline:
            seen = len(self._pending)
            await asyncio.sleep(QUIET)
            if len(self._pending) == seen:
                return

    async def _recorded(self, events: list[Event]) -> None:
        """Replies can arrive in a thread we just opened before the outbox has recorded the post
        it was opened from; the engine would not know the thread, so wait for the record."""
        opened = self.delivery.opened
        threads = {int(e.place.thread) for e in events if isinstance(e, (Reply, ReplyEdited, ReplyDeleted))
                   and e.place.thread and int(e.place.thread) in opened}
        for thread in threads:
            delay, deadline = 0.005, time.monotonic() + RECORD_WAIT
            while not await asyncio.to_thread(self.engine.knows_post, DISCORD, str(thread)):
                if time.monotonic() > deadline:
                    log.warning("discord: the post that opened thread %s is still not recorded", thread)
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)
            opened.pop(thread, None)

    def _apply(self, events: list[Event | _CatchUp]) -> list[list[Answer]]:
        results: list[list[Answer]] = []
        for catching_up, run in itertools.groupby(events, lambda e: isinstance(e, _CatchUp)):
            run = list(run)
            if catching_up:
                results += [self._catch_up(each) for each in run]
            else:
                results += [answers for start in range(0, len(run), TRANSACTION)
                            for answers in self._apply_together(run[start:start + TRANSACTION])]
        return results

    def _catch_up(self, each: _CatchUp) -> list[Answer]:
        replies = each.history.result()  # done: the worker waited for it
        if replies is None:
            return []
        try:
            results = self.engine.catch_up(each.place, replies)
        except Exception:
            log.exception("discord: catching up on thread %s failed", each.place.thread)
            return []
        refused = sum(not answer.ok for answers in results for answer in answers)
        log.info("discord: caught up on thread %s: %s replies, %s refused", each.place.thread,
                 len(replies), refused)
        return []

    def _apply_together(self, events: list[Event]) -> list[list[Answer]]:
        try:
            return self.engine.handle_many(events)
        except Exception:  # find the one that fails; the others still count
            log.exception("discord: applying %s events together failed; one by one now", len(events))
        results = []
        for event in events:
            try:
                results.append(self.engine.handle(event))
            except IntegrityError:  # the same message delivered twice: it is stored already
                log.info("discord: %s %s was already applied", type(event).__name__,
                         getattr(event, "message_id", ""))
                results.append([])
            except Exception:
                log.exception("discord: %s failed", type(event).__name__)
                results.append([Answer("Something went wrong on our side and nothing was saved; "
                                       "please try again in a minute.", ok=False)])
        return results

    async def _deliver(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            try:
                while await self.runtime.dispatcher.deliver_due() >= 500:
                    pass
            except Exception:
                log.exception("discord: delivering the outbox failed")

    # -- gateway events ---------------------------------------------------------------------------

    async def on_ready(self) -> None:
        log.info("discord: connected as %s to %s guilds", self.client.user, len(self.client.guilds))
        try:
            await self._queue_catch_ups()
        finally:
            self.ready.set()
            self.kick()

    async def _queue_catch_ups(self) -> None:
        """Catch up on the bot's threads: what was posted, edited or deleted while no gateway
        session was reading them. Also after a reconnect that could not resume: catching up is
        idempotent. Each thread's history is read while the events queued before it are applied,
        and applied in its place in the queue: events received after the history was asked for
        are applied after it, so a change made meanwhile is neither lost nor undone."""
        names: dict[int, asyncio.Task] = {}  # each author is looked up once per catch-up
        for place in await asyncio.to_thread(self.engine.open_threads, DISCORD):
            history = self._read(self._history(place, names), f"discord-history-{place.thread}")
            self.enqueue(_CatchUp(place, history))

    def _read(self, work, name: str) -> asyncio.Task:
        task = asyncio.create_task(work, name=name)
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)
        return task

    async def _history(self, place: Place, names: dict[int, asyncio.Task]) -> list[Reply] | None:
        """The replies in a thread as Discord shows them now, oldest first; None if it cannot be read."""
        thread_id = int(place.thread)
        thread = self.client.get_channel(thread_id) or self.client.get_partial_messageable(thread_id)
        try:
            messages = [m async for m in thread.history(limit=None, oldest_first=True)
                        if m.id != thread_id and _from_a_person(m)]
        except Exception as error:  # deleted, no longer visible, or Discord unreachable
            log.warning("discord: cannot read thread %s to catch up on it: %s", thread_id, error)
            return None
        guild = getattr(self.client.get_channel(int(place.channel)), "guild", None)
        people = {m.author.id for m in messages} | {u.id for m in messages for u in m.mentions}
        for person in people - names.keys():
            names[person] = self._read(_member_name(guild, person), f"discord-member-{person}")
        # Shielded: the lookups are shared with the other threads' catch-ups.
        known = {person: await asyncio.shield(names[person]) for person in people}
        return [_as_reply(m, int(place.channel), known) for m in messages]

    def _ours(self, channel) -> bool:
        """A thread the bot opened under one of the configured channels."""
        return (isinstance(channel, discord.Thread) and channel.parent_id in self._channels
                and channel.owner_id == self.client.user.id)

    def _maybe_ours(self, channel_id: int) -> tuple[bool, int | None]:
        """For raw events: skip channels known not to be ours; unknown ones may be archived threads."""
        channel = self.client.get_channel(channel_id)
        if channel is None:
            return True, None
        return self._ours(channel), getattr(channel, "parent_id", None)

    async def on_message(self, message: discord.Message) -> None:
        channel = message.channel
        if not self._ours(channel) or (reply := _as_reply(message, channel.parent_id)) is None:
            return
        self.enqueue(reply, functools.partial(self._answer_in_thread, channel.id, message.id))

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        data = payload.data
        if "content" not in data or data.get("edited_timestamp") is None:
            return  # a link preview or a flag changed: not a person's edit
        message = payload.message
        if message.author.bot or message.webhook_id is not None:
            return
        ours, parent_id = self._maybe_ours(payload.channel_id)
        if not ours:
            return
        edit = translate.to_edit(
            author_id=message.author.id, author_name=message.author.display_name, parent_id=parent_id,
            thread_id=payload.channel_id, message_id=payload.message_id, content=_content(message),
            **_mention_names(message))
        self.enqueue(edit, functools.partial(self._answer_in_thread, payload.channel_id, payload.message_id))

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        ours, parent_id = self._maybe_ours(payload.channel_id)
        if ours:
            self.enqueue(translate.to_delete(parent_id=parent_id, thread_id=payload.channel_id,
                                             message_id=payload.message_id))

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        ours, parent_id = self._maybe_ours(payload.channel_id)
        if ours:
            for message_id in sorted(payload.message_ids):
                self.enqueue(translate.to_delete(parent_id=parent_id, thread_id=payload.channel_id,
                                                 message_id=message_id))

    def _answer_in_thread(self, channel_id: int, message_id: int, answers: list[Answer]) -> None:
        task = asyncio.create_task(self._tell(channel_id, message_id, answers))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _tell(self, channel_id: int, message_id: int, answers: list[Answer]) -> None:
        """A reply that could not be used is answered in its thread, never dropped silently."""
        for answer in answers:
            if answer.ok and not answer.public:
                continue  # thread replies are confirmed by the notes, not by chatter
            channel = self.client.get_partial_messageable(channel_id)
            reference = discord.MessageReference(message_id=message_id, channel_id=channel_id,
                                                 fail_if_not_exists=False)
            try:
                for index, part in enumerate(render(_marked(answer))):
                    await channel.send(part, allowed_mentions=NO_PINGS,
                                       reference=reference if index == 0 else None)
            except discord.HTTPException as error:
                log.warning("discord: could not answer message %s: %s", message_id, error)

    # -- application commands ---------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.application_command:
            return
        name = (interaction.data or {}).get("name", "?")
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as error:
            log.warning("discord: /%s could not be acknowledged in time: %s", name, error)
            return
        try:
            call = translate.to_call(interaction.data, actor=self._actor(interaction.user),
                                     place=self._place(interaction), **await self._names(interaction))
        except UsageError as error:
            answers = [Answer(str(error), ok=False)]
        else:
            answers = await self.submit(call)
        log.info("discord: /%s by %s in %s: %s", name, interaction.user.id, interaction.channel_id,
                 "ok" if all(a.ok for a in answers) else "refused")
        await self._answer(interaction, answers)

    @staticmethod
    def _actor(user: discord.abc.User) -> Actor:
        return Actor(DISCORD, str(user.id), user.display_name)

    @staticmethod
    def _place(interaction: discord.Interaction) -> Place:
        channel = interaction.channel
        if isinstance(channel, discord.Thread):
            return Place(DISCORD, str(channel.parent_id), str(channel.id))
        return Place(DISCORD, str(interaction.channel_id), None)

    async def _names(self, interaction: discord.Interaction) -> dict[str, dict[str, str]]:
        """Names for mentions typed inside text options (Discord resolves only user options)."""
        users, roles, channels = translate.mentioned(interaction.data or {})
        guild = interaction.guild
        found: dict[str, dict[str, str]] = {"names": {}, "roles": {}, "channels": {}}
        if guild is None:
            return found
        for uid in users:
            if (name := await _member_name(guild, int(uid))) is not None:
                found["names"][uid] = name
        lookups = (("roles", roles, guild.get_role), ("channels", channels, guild.get_channel_or_thread))
        for kind, ids, lookup in lookups:
            for each in ids:
                if (thing := lookup(int(each))) is not None:
                    found[kind][each] = thing.name
        return found

    async def _answer(self, interaction: discord.Interaction, answers: list[Answer]) -> None:
        private = [part for a in answers if not a.public for part in render(_marked(a))] or ["Done."]
        public = [part for a in answers if a.public for part in render(_marked(a))]
        try:
            await interaction.edit_original_response(content=private[0], allowed_mentions=NO_PINGS)
            for part in private[1:]:
                await interaction.followup.send(part, ephemeral=True, allowed_mentions=NO_PINGS)
            for part in public:
                await interaction.followup.send(part, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.warning("discord: could not answer interaction %s: %s", interaction.id, error)


def _marked(answer: Answer) -> str:
    return answer.text if answer.ok else f"⚠️ {answer.text}"


def _cancel(then) -> None:
    if isinstance(then, asyncio.Future):
        then.cancel()


@dataclass(frozen=True)
class _CatchUp:
    """A thread's place in the event queue: its history replaces what is stored there."""

    place: Place
    history: asyncio.Task  # the replies, or None when the thread could not be read


_PEOPLES_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)


def _from_a_person(message: discord.Message) -> bool:
    """Not a bot's, a webhook's or a system message."""
    return (not message.author.bot and message.webhook_id is None
            and message.type in _PEOPLES_MESSAGES)


def _as_reply(message: discord.Message, parent_id: int | None,
              names: Mapping[int, str | None] = MappingProxyType({})) -> Reply | None:
    """A person's message in a thread; None for bots', webhooks' and system messages.
    `names` replaces the names the message carries for its author and the people it mentions
    (a message read from history has no members, so its names are not server nicknames)."""
    if not _from_a_person(message):
        return None
    return translate.to_reply(
        author_id=message.author.id, author_name=names.get(message.author.id) or message.author.display_name,
        parent_id=parent_id, thread_id=message.channel.id, message_id=message.id,
        content=_content(message), **_mention_names(message, names))


async def _member_name(guild: discord.Guild | None, user_id: int) -> str | None:
    """A person's name in the server: nickname, else global name, else user name. None when
    they left it or it cannot be looked up now: then the name their message carries is used."""
    if guild is None:
        return None
    if (member := guild.get_member(user_id)) is not None:
        return member.display_name
    try:
        return (await guild.fetch_member(user_id)).display_name
    except discord.NotFound:  # no longer a member of the server
        return None
    except Exception as error:  # rate-limited for too long, or Discord unreachable
        log.warning("discord: cannot look up member %s of %s: %s", user_id, guild.id, error)
        return None


def _content(message: discord.Message) -> str:
    """The text, with any attached files as links so that a screenshot update is kept too."""
    if not message.attachments:
        return message.content
    return "\n".join([message.content, *(a.url for a in message.attachments)]).strip()


def _mention_names(message: discord.Message,
                   names: Mapping[int, str | None] = MappingProxyType({})) -> dict:
    if "<" not in message.content:
        return {}
    return dict(
        users={str(u.id): names.get(u.id) or u.display_name for u in message.mentions},
        roles={str(r.id): r.name for r in message.role_mentions},
        channels={str(c.id): c.name for c in message.channel_mentions
                  if isinstance(c, discord.abc.GuildChannel)},
    )


def create(runtime, **client_options) -> DiscordAdapter:
    return DiscordAdapter(runtime, **client_options)

