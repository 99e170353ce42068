"""The Discord adapter: gateway events and application commands translated and handed to the core
in the order the gateway sent them, answers rendered back, and the delivery of the outbox's posts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time

import discord

from adapters.discord import translate
from adapters.discord.delivery import NO_PINGS, DiscordDelivery
from adapters.discord.render import render
from adapters.discord.setup import intents, pointed_at, sync_commands
from chatbot.commands import UsageError
from chatbot.events import DISCORD, Actor, Answer, Event, Place, Reply
from chatbot.ports import Batching, Core, Incoming, StartupError

log = logging.getLogger(__name__)

# A burst from the gateway is applied once it is all read: events come much faster than over
# HTTP, so the wait for the rest is short and the batches are large.
BATCHING = Batching(batch=4096, transaction=1000, quiet=0.001, burst_wait=0.25, record_wait=30.0)


class DiscordAdapter:
    """Feeds Discord events to the core in the order the gateway sent them, and answers."""

    platform = DISCORD

    def __init__(self, core: Core, *, batching: Batching = BATCHING, **client_options) -> None:
        self.core = core
        self.settings = core.settings
        self.batching = batching
        options = dict(intents=intents(), max_messages=None, chunk_guilds_at_startup=False,
                       allowed_mentions=NO_PINGS, max_ratelimit_timeout=60.0)
        options.update(client_options)
        self.client = discord.Client(**options)
        self.delivery = DiscordDelivery(self.client)
        self.events = core.events(batching)
        self.ready = asyncio.Event()
        self._channels = {int(c) for c in core.channels()}
        self._answering: set[asyncio.Task] = set()
        self._reading: set[asyncio.Task] = set()  # authors' names, looked up for catching up
        self._redirect: contextlib.ExitStack | None = None
        for handler in (self.on_ready, self.on_message, self.on_raw_message_edit,
                        self.on_raw_message_delete, self.on_raw_bulk_message_delete,
                        self.on_interaction):
            self.client.event(handler)

    @property
    def handled(self) -> int:
        """Events (and threads caught up on) the core has applied, for benchmarks and operators."""
        return self.events.handled

    @property
    def settled(self) -> bool:
        """No history being read for a catch-up, and no event waiting or being applied."""
        return self.events.settled

    # -- lifecycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        token = self.settings.discord_token
        if token is None:
            raise StartupError("DISCORD_TOKEN is missing: copy the token from the Bot page of the "
                               "application on the Discord developer portal")
        self._redirect = contextlib.ExitStack()
        self._redirect.enter_context(pointed_at(self.settings))
        try:
            await self.client.login(token.get_secret_value())
        except discord.LoginFailure:
            raise StartupError("DISCORD_TOKEN was refused by Discord; copy the bot token again from "
                               "the Bot page of the application (Reset Token)") from None
        await sync_commands(self.client, self.core.values, force=False)
        try:
            await self.client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise StartupError("Discord refused the Message Content intent: turn on Message Content "
                               "Intent on the Bot page of the application; the bot reads the "
                               "replies in its threads") from None

    async def close(self) -> None:
        await self.events.close()
        for task in [*self._answering, *self._reading]:
            task.cancel()
        if not self.client.is_closed():
            await self.client.close()
        if self._redirect is not None:
            self._redirect.close()
            self._redirect = None

    # -- catching up --------------------------------------------------------------------------------

    async def on_ready(self) -> None:
        log.info("discord: connected as %s to %s guilds", self.client.user, len(self.client.guilds))
        try:
            await self._queue_catch_ups()
        finally:
            self.ready.set()
            self.core.changed()

    async def _queue_catch_ups(self) -> None:
        """Catch up on the bot's threads: what was posted, edited or deleted while no gateway
        session was reading them. Also after a reconnect that could not resume: catching up is
        idempotent. Each thread's history is read while the events before it are applied, and
        applied in its place in the queue."""
        names: dict[int, asyncio.Task] = {}  # each author is looked up once per catch-up
        for place in await self.core.open_threads():
            self.events.catch_up(place, self._history(place, names))

    async def _history(self, place: Place, names: dict[int, asyncio.Task]) -> list[Reply] | None:
        """The replies in a thread as Discord shows them now, oldest first; None if it cannot be read."""
        thread_id = int(place.thread)
        thread = self.client.get_channel(thread_id) or self.client.get_partial_messageable(thread_id)
        try:
            messages = [m async for m in thread.history(limit=None, oldest_first=True)
                        if m.id != thread_id and translate.from_a_person(m)]
        except Exception as error:  # deleted, no longer visible, or Discord unreachable
            log.warning("discord: cannot read thread %s to catch up on it: %s", thread_id, error)
            return None
        guild = getattr(self.client.get_channel(int(place.channel)), "guild", None)
        people = {m.author.id for m in messages} | {u.id for m in messages for u in m.mentions}
        for person in people - names.keys():
            names[person] = self._read(_member_name(guild, person), f"discord-member-{person}")
        # Shielded: the lookups are shared with the other threads' catch-ups.
        known = {person: await asyncio.shield(names[person]) for person in people}
        return [translate.message_to_reply(m, int(place.channel), known) for m in messages]

    def _read(self, work, name: str) -> asyncio.Task:
        task = asyncio.create_task(work, name=name)
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)
        return task

    # -- gateway events ---------------------------------------------------------------------------

    def _ours(self, channel) -> bool:
        """A thread the bot opened under one of the configured channels."""
        return (isinstance(channel, discord.Thread) and channel.parent_id in self._channels
                and channel.owner_id == self.client.user.id)

    def _maybe_ours(self, channel_id: int) -> tuple[bool, int | None, bool]:
        """For raw events: skip channels known not to be ours (unknown ones may be archived
        threads); and whether the thread is known to be ours."""
        channel = self.client.get_channel(channel_id)
        if channel is None:
            return True, None, False
        ours = self._ours(channel)
        return ours, getattr(channel, "parent_id", None), ours

    def _incoming(self, event: Event, *, owned: bool) -> Incoming:
        """Replies can arrive in a thread the bot just opened before the outbox has recorded the
        post it was opened from: such a thread's events wait for the record."""
        thread = int(event.place.thread)
        fresh = thread in self.delivery.opened or (
            owned and time.time() - discord.utils.snowflake_time(thread).timestamp() < self.batching.record_wait)
        return Incoming(event, fresh_thread=fresh)

    async def on_message(self, message: discord.Message) -> None:
        channel = message.channel
        if not self._ours(channel) or (reply := translate.message_to_reply(message, channel.parent_id)) is None:
            return
        self.events.enqueue(self._incoming(reply, owned=True),
                            functools.partial(self._answer_in_thread, channel.id, message.id))

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        ours, parent_id, owned = self._maybe_ours(payload.channel_id)
        if not ours or (edit := translate.edit_to_event(payload, parent_id)) is None:
            return
        self.events.enqueue(self._incoming(edit, owned=owned),
                            functools.partial(self._answer_in_thread, payload.channel_id, payload.message_id))

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self._deleted(payload.channel_id, [payload.message_id])

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        self._deleted(payload.channel_id, sorted(payload.message_ids))

    def _deleted(self, channel_id: int, message_ids: list[int]) -> None:
        ours, parent_id, owned = self._maybe_ours(channel_id)
        if ours:
            for message_id in message_ids:
                deletion = translate.to_delete(parent_id=parent_id, thread_id=channel_id, message_id=message_id)
                self.events.enqueue(self._incoming(deletion, owned=owned))

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
            call = translate.to_call(interaction.data, actor=_actor(interaction.user),
                                     place=_place(interaction), **await _names(interaction))
        except UsageError as error:
            answers = [Answer(str(error), ok=False)]
        else:
            answers = await self.events.submit(Incoming(call))
        log.info("discord: /%s by %s in %s: %s", name, interaction.user.id, interaction.channel_id,
                 "ok" if all(a.ok for a in answers) else "refused")
        await _answer(interaction, answers)


def _actor(user: discord.abc.User) -> Actor:
    return Actor(DISCORD, str(user.id), user.display_name)


def _place(interaction: discord.Interaction) -> Place:
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return Place(DISCORD, str(channel.parent_id), str(channel.id))
    return Place(DISCORD, str(interaction.channel_id), None)


async def _names(interaction: discord.Interaction) -> dict[str, dict[str, str]]:
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


async def _answer(interaction: discord.Interaction, answers: list[Answer]) -> None:
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


def create(core: Core, **options) -> DiscordAdapter:
    return DiscordAdapter(core, **options)
