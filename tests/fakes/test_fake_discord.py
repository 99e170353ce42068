"""The fake Discord, exercised with the real discord.py client over real HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakes.discord import FakeDiscord, Intents, Permissions

TIMEOUT = 5.0


@pytest.fixture
async def fake():
    async with FakeDiscord() as fake:
        with fake.redirect():
            yield fake
        assert fake.unhandled == [], "discord.py called routes the fake does not implement"
        assert fake.server_errors == []


@pytest.fixture
def world(fake):
    guild = fake.add_guild(name="Hubs Community")
    channel = fake.add_text_channel(guild, None, "team-meeting")
    chair = fake.add_role(guild, None, "chair", permissions=0)
    alice = fake.add_member(guild, None, "alice", global_name="Alice Liddell", nick="Ali", roles=[chair])
    bob = fake.add_member(guild, None, "bob_the_builder")
    return {"guild": guild, "channel": channel, "alice": alice, "bob": bob, "chair_role": chair}


def make_client(**options) -> discord.Client:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return discord.Client(intents=intents, guild_ready_timeout=0.05, **options)


async def test_redirect_is_restored():
    import discord.gateway
    import discord.http

    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        with fake.redirect():
            assert discord.http.Route.BASE == fake.api_base
            assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
    assert (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == before


async def test_login_connect_ready_with_guild_cached(fake, world):
    client = make_client()
    async with fake.run(client):
        guild = client.get_guild(world["guild"])
        assert guild is not None and guild.name == "Hubs Community"
        assert guild.default_role.id == guild.id
        assert guild.me is not None and guild.me.id == fake.bot_user_id
        channel = client.get_channel(world["channel"])
        assert isinstance(channel, discord.TextChannel) and channel.name == "team-meeting"
        assert client.user.id == fake.bot_user_id and client.user.bot
        assert client.application_id == fake.application_id

    routes = [(r.method, r.path) for r in fake.requests]
    assert routes[:2] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
    assert ("GET", "/gateway/bot") not in routes  # a plain Client never asks
    connection = fake.gateway_connections[0]
    assert connection.kind == "identify" and connection.query["compress"] == "zlib-stream"
    identify = next(p for p in fake.gateway_received if p["op"] == 2)
    assert identify["d"]["intents"] & Intents.MESSAGE_CONTENT
    assert any(p["op"] == 1 for p in fake.gateway_received)  # heartbeat, acked with op 11


async def test_rest_answers_are_exactly_application_json(fake, world):
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {fake.token}"}
        async with session.get(f"{fake.api_base}/users/@me", headers=headers) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert response.headers["X-RateLimit-Bucket"]
            assert int(response.headers["X-RateLimit-Remaining"]) > 0
        async with session.get(f"{fake.api_base}/users/@me", headers={"Authorization": "Bot wrong"}) as response:
            assert response.status == 401
        async with session.get(f"{fake.api_base}/channels/1/messages", headers=headers) as response:
            assert response.status == 404 and (await response.json())["code"] == 10003


async def test_bad_token_is_a_login_failure(fake, world):
    client = make_client()
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()


async def test_on_message_gets_full_member_and_mentions(fake, world):
    client = make_client()
    async with fake.run(client):
        waiter = client.wait_for("message", check=lambda m: m.author.id == world["alice"], timeout=TIMEOUT)
        sent = await fake.user_message(world["channel"], world["alice"], f"my update <@{fake.bot_user_id}>")
        message = await waiter
        assert message.id == int(sent["id"])
        assert isinstance(message.author, discord.Member)
        assert message.author.nick == "Ali" and message.author.global_name == "Alice Liddell"
        assert message.author.display_name == "Ali"
        assert [r.id for r in message.author.roles if not r.is_default()] == [world["chair_role"]]
        assert message.guild.id == world["guild"] and message.channel.id == world["channel"]
        assert [m.id for m in message.mentions] == [fake.bot_user_id]
        assert message.created_at.year >= 2024  # snowflakes carry real time


async def test_message_content_is_stripped_without_the_intent(fake, world):
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    async with fake.run(client):
        waiter = client.wait_for("message", timeout=TIMEOUT)
        await fake.user_message(world["channel"], world["alice"], "secret text")
        assert (await waiter).content == ""
        waiter = client.wait_for("message", timeout=TIMEOUT)
        await fake.user_message(world["channel"], world["alice"], f"<@{fake.bot_user_id}> hi")
        assert (await waiter).content.endswith("hi")


async def test_send_with_nonce_twice_creates_one_message(fake, world):
    client = make_client()
    async with fake.run(client):
        channel = client.get_channel(world["channel"])
        first = await channel.send("Call for updates", nonce="hubs-2026-01-20-cfu")
        second = await channel.send("Call for updates", nonce="hubs-2026-01-20-cfu")
        assert first.id == second.id
        assert [m["content"] for m in fake.bot_messages(world["channel"])] == ["Call for updates"]
        posts = [r for r in fake.requests if r.method == "POST"]
        assert posts[0].json["enforce_nonce"] is True and posts[1].deduplicated

        with pytest.raises(discord.HTTPException) as too_long:
            await channel.send("x" * 2001)
        assert too_long.value.status == 400 and too_long.value.code == 50035
        assert len(fake.bot_messages(world["channel"])) == 1


async def test_allowed_mentions_are_recorded_and_decide_pings(fake, world):
    client = make_client()
    async with fake.run(client):
        channel = client.get_channel(world["channel"])
        text = f"@everyone <@{world['alice']}> says hi"
        quiet = await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        loud = await channel.send(text)
        stored_quiet = fake.message(quiet.id)
        assert stored_quiet["mentions"] == [] and stored_quiet["mention_everyone"] is False
        assert fake.allowed_mentions(quiet.id) == {"parse": []}
        stored_loud = fake.message(loud.id)
        assert stored_loud["mention_everyone"] is True
        assert [m["id"] for m in stored_loud["mentions"]] == [str(world["alice"])]


async def test_thread_from_message_has_the_message_id(fake, world):
    client = make_client()
    async with fake.run(client):
        channel = client.get_channel(world["channel"])
        starter = await channel.send("Quick updates for 20 January: reply in the thread")
        created = client.wait_for("thread_create", timeout=TIMEOUT)
        thread = await starter.create_thread(name="Quick updates")
        assert thread.id == starter.id and thread.parent_id == channel.id
        assert (await created).id == starter.id

        reply = client.wait_for("message", check=lambda m: m.channel.id == thread.id, timeout=TIMEOUT)
        await fake.user_message(thread.id, world["bob"], "pass")
        got = await reply
        assert isinstance(got.channel, discord.Thread) and got.content == "pass"

        await thread.send("noted")
        assert [m["content"] for m in fake.messages(thread.id)] == ["pass", "noted"]
        assert fake.channel(thread.id)["message_count"] == 2
        with pytest.raises(discord.HTTPException) as again:
            await starter.create_thread(name="twice")
        assert again.value.code == 160004

        user_thread = await fake.create_thread_from(world["channel"], (await channel.send("agenda item")).id, "notes")
        assert user_thread["id"] == fake.messages(world["channel"])[-1]["id"]


async def test_raw_edit_and_delete_of_uncached_message(fake, world):
    client = make_client()
    async with fake.run(client):
        old = await fake.user_message(world["channel"], world["alice"], "sent while the bot was away", dispatch=False)
        edited = client.wait_for("raw_message_edit", timeout=TIMEOUT)
        await fake.edit_message(world["channel"], int(old["id"]), "edited text")
        raw_edit = await edited
        assert raw_edit.cached_message is None and raw_edit.message_id == int(old["id"])
        assert raw_edit.data["content"] == "edited text" and raw_edit.message.content == "edited text"

        deleted = client.wait_for("raw_message_delete", timeout=TIMEOUT)
        await fake.delete_message(world["channel"], int(old["id"]))
        raw_delete = await deleted
        assert raw_delete.cached_message is None and raw_delete.message_id == int(old["id"])
        assert fake.messages(world["channel"]) == []
        assert fake.messages(world["channel"], include_deleted=True)[0]["content"] == "edited text"


async def test_history_is_newest_first_and_pages(fake, world):
    client = make_client()
    async with fake.run(client):
        for n in range(5):
            await fake.user_message(world["channel"], world["bob"], f"m{n}")
        channel = client.get_channel(world["channel"])
        newest = [m.content async for m in channel.history(limit=3)]
        assert newest == ["m4", "m3", "m2"]
        oldest = [m.content async for m in channel.history(limit=None, oldest_first=True)]
        assert oldest == ["m0", "m1", "m2", "m3", "m4"]


async def test_429_then_success(fake, world):
    client = make_client()
    async with fake.run(client):
        channel = client.get_channel(world["channel"])
        fake.rate_limit("POST", r"/channels/\d+/messages$", times=1, retry_after=0.3)
        started = time.monotonic()
        message = await channel.send("after the limit")
        assert time.monotonic() - started >= 0.3
        assert fake.rate_limit_hits == 1
        posts = [r for r in fake.requests if r.method == "POST"]
        assert [r.status for r in posts] == [429, 200]
        assert posts[0].response == {"message": "You are being rate limited.", "retry_after": 0.3, "global": False}
        assert fake.message(message.id)["content"] == "after the limit"

        fake.rate_limit(None, r"/messages$", times=1, retry_after=0.1, global_=True)
        await channel.send("after a global limit")
        assert fake.rate_limit_hits == 2


async def test_reconnect_resumes_and_replays_exactly_once(fake, world):
    client = make_client()
    seen: list[str] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author.id != fake.bot_user_id:
            seen.append(message.content)

    async with fake.run(client):
        resumed = client.wait_for("resumed", timeout=TIMEOUT)
        await fake.reconnect()
        await fake.user_message(world["channel"], world["alice"], "sent during the gap")
        await fake.wait_resumed()
        await resumed

        marker = client.wait_for("message", check=lambda m: m.content == "marker", timeout=TIMEOUT)
        await fake.user_message(world["channel"], world["alice"], "marker")
        await marker
        assert seen == ["sent during the gap", "marker"]
        assert fake.identify_count == 1 and fake.resume_count == 1
        assert fake.gateway_connections[-1].kind == "resume"
        assert fake.gateway_connections[-1].path == "/gateway-resume"


def build_tree(client: discord.Client) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(client)
    meeting = app_commands.Group(name="meeting", description="The team meeting")
    agenda = app_commands.Group(name="agenda", description="Agenda items", parent=meeting)

    @agenda.command(name="add", description="Add an agenda item")
    async def agenda_add(interaction: discord.Interaction, text: str, minutes: int = 5) -> None:
        who = interaction.user.display_name
        await interaction.response.send_message(f"Added '{text}' (~{minutes}min) for {who}", ephemeral=True)

    @agenda.command(name="list", description="Show the agenda")
    async def agenda_list(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("1. Budget (~5min)")
        original = await interaction.original_response()  # GET .../messages/@original
        await original.edit(content="1. Budget (~5min)\n2. Release (~10min)")

    @meeting.command(name="compile", description="Compile the notes now")
    async def compile_(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("Compiling...", ephemeral=True)
        await interaction.edit_original_response(content="Digest posted")

    @meeting.command(name="chair", description="Set the chair")
    async def chair(interaction: discord.Interaction, who: discord.Member) -> None:
        await interaction.response.send_message(f"Chair: {who.display_name} ({who.id})", ephemeral=True)

    tree.add_command(meeting)
    return tree


async def test_app_command_subcommand_group_answers_ephemerally(fake, world):
    client = make_client()
    tree = build_tree(client)
    async with fake.run(client):
        guild = discord.Object(world["guild"])
        tree.copy_global_to(guild=guild)
        synced = await tree.sync(guild=guild)
        assert [c.name for c in synced] == ["meeting"]
        assert len(fake.command_syncs) == 1 and fake.command_syncs[0].guild_id == world["guild"]
        stored = fake.commands(world["guild"])[0]
        assert [o["name"] for o in stored["options"]] == ["agenda", "compile", "chair"]
        assert stored["options"][0]["type"] == 2  # SUB_COMMAND_GROUP

        iid = await fake.interaction(world["guild"], world["channel"], world["alice"], "meeting",
                                     {"text": "Budget"}, subcommand="agenda add")
        answer = await fake.wait_interaction_response(iid, TIMEOUT)
        assert answer.kind == "callback" and answer.type == 4 and answer.ephemeral
        assert answer.content == "Added 'Budget' (~5min) for Ali"
        assert fake.bot_messages(world["channel"]) == []  # ephemeral: not in the channel

        iid = await fake.interaction(world["guild"], world["channel"], world["bob"], "meeting",
                                     {"who": world["alice"]}, subcommand="chair")
        answer = await fake.wait_interaction_response(iid, TIMEOUT)
        assert answer.content == f"Chair: Ali ({world['alice']})"

        iid = await fake.interaction(world["guild"], world["channel"], world["bob"], "meeting", {},
                                     subcommand=["agenda", "list"])
        answer = await fake.wait_interaction_response(iid, TIMEOUT)
        assert not answer.ephemeral
        await fake.wait_interaction_response(iid, TIMEOUT, kind="edit_original")
        posted = fake.bot_messages(world["channel"])
        assert [m["content"] for m in posted] == ["1. Budget (~5min)\n2. Release (~10min)"]
        assert posted[0]["type"] == 20 and posted[0]["interaction_metadata"]["user"]["id"] == str(world["bob"])


async def test_deferred_answer_completed_by_followup_and_edit(fake, world):
    client = make_client()
    tree = build_tree(client)
    async with fake.run(client):
        await tree.sync()  # global commands
        assert fake.command_syncs[-1].guild_id is None
        iid = await fake.interaction(world["guild"], world["channel"], world["alice"], "meeting", {},
                                     subcommand="compile")
        await fake.wait_interaction_response(iid, TIMEOUT, kind="edit_original")
        responses = fake.interaction_responses(iid)
        assert [(r.kind, r.type) for r in responses] == [("callback", 5), ("followup", None), ("edit_original", None)]
        assert all(r.ephemeral for r in responses)
        assert responses[1].content == "Compiling..." and responses[2].content == "Digest posted"
        assert fake.bot_messages(world["channel"]) == []


async def test_late_interaction_answer_is_unknown_interaction(fake, world):
    client = make_client()
    tree = build_tree(client)
    errors: list = []

    @tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        errors.append(error)

    async with fake.run(client):
        fake.interaction_ack_timeout = 0.0  # every answer is too late
        await fake.interaction(world["guild"], world["channel"], world["alice"], "meeting",
                               {"text": "late"}, subcommand="agenda add")
        await fake.wait_for(lambda r: r.route.endswith("/callback"), TIMEOUT)
        await fake.wait_until(lambda: errors, TIMEOUT, "the tree's error handler")
        original = errors[0].original
        assert isinstance(original, discord.NotFound) and original.code == 10062


async def test_file_attachment_round_trip(fake, world):
    client = make_client()
    async with fake.run(client):
        channel = client.get_channel(world["channel"])
        notes = "# Team meeting 2026-01-20\n\n## Quick updates\n- **Ali** shipped it\n".encode()
        message = await channel.send("Digest", file=discord.File(io.BytesIO(notes), filename="2026-01-20.md"))
        assert [a.filename for a in message.attachments] == ["2026-01-20.md"]
        assert fake.message_files(message.id) == [("2026-01-20.md", notes)]
        upload = next(r for r in fake.requests if r.method == "POST").files[0]
        assert upload.field == "files[0]" and upload.data == notes
        assert await message.attachments[0].read() == notes  # served by the fake's CDN route


async def test_state_added_while_connected_is_dispatched_in_order(fake, world):
    client = make_client()
    async with fake.run(client):
        created = client.wait_for("guild_channel_create", timeout=TIMEOUT)
        arrived = client.wait_for("message", timeout=TIMEOUT)
        digest = fake.add_text_channel(world["guild"], None, "digest")
        await fake.user_message(digest, world["alice"], "first words")
        assert (await created).id == digest
        message = await arrived
        assert isinstance(message.channel, discord.TextChannel) and message.channel.name == "digest"


async def test_dropped_socket_resumes(fake, world):
    client = make_client()
    async with fake.run(client):
        arrived = client.wait_for("message", timeout=TIMEOUT)
        await fake.drop_connection()
        await fake.user_message(world["channel"], world["bob"], "while dropped")
        await fake.wait_resumed()
        assert (await arrived).content == "while dropped"
        assert fake.identify_count == 1


async def test_held_events_reach_the_client_in_order_on_release(fake, world):
    client = make_client()
    seen: list[str] = []
    client.event(_recorder(seen))
    async with fake.run(client):
        fake.hold()
        for n in range(5):
            await fake.user_message(world["channel"], world["bob"], f"held {n}")
        for _ in range(20):
            await asyncio.sleep(0)  # a written frame would have arrived by now
        assert seen == []
        await fake.release()
        await fake.wait_until(lambda: len(seen) == 5, TIMEOUT, "the held messages")
        assert seen == [f"held {n}" for n in range(5)]


def _recorder(seen: list[str]):
    async def on_message(message):
        seen.append(message.content)
    return on_message


async def test_members_intent_chunks_and_reactions(fake, world):
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True
    intents.guild_messages = True
    intents.guild_reactions = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    async with fake.run(client):
        guild = client.get_guild(world["guild"])
        member = guild.get_member(world["alice"])  # cached through GUILD_MEMBERS_CHUNK (op 8)
        assert member is not None and member.nick == "Ali"
        message = await guild.get_channel(world["channel"]).send("Agenda item: budget")
        reacted = client.wait_for("raw_reaction_add", timeout=TIMEOUT)
        await fake.user_reaction(world["channel"], message.id, world["bob"], "\N{THUMBS UP SIGN}")
        event = await reacted
        assert event.user_id == world["bob"] and str(event.emoji) == "\N{THUMBS UP SIGN}"
        assert event.member is not None and event.member.name == "bob_the_builder"


async def test_missing_permission_is_forbidden(fake):
    guild = fake.add_guild(everyone_permissions=Permissions.EVERYONE_DEFAULT & ~Permissions.ATTACH_FILES)
    channel = fake.add_text_channel(guild, None, "no-files")
    client = make_client()
    async with fake.run(client):
        with pytest.raises(discord.Forbidden) as denied:
            await client.get_channel(channel).send("notes", file=discord.File(io.BytesIO(b"x"), filename="n.md"))
        assert denied.value.code == 50013
        assert fake.bot_messages(channel) == []


async def test_edit_delete_fetch_and_threads_without_message(fake, world):
    client = make_client()
    async with fake.run(client):
        channel = await client.fetch_channel(world["channel"])  # GET /channels/{id}
        assert channel.name == "team-meeting"
        message = await channel.send("draft digest")
        edited = client.wait_for("message_edit", timeout=TIMEOUT)
        await message.edit(content="final digest")
        before, after = await edited
        assert (before.content, after.content) == ("draft digest", "final digest")
        assert fake.message(message.id)["edited_timestamp"] is not None
        await message.delete()
        assert fake.bot_messages(world["channel"]) == []

        thread = await channel.create_thread(name="Meeting notes", type=discord.ChannelType.public_thread)
        assert fake.channel(thread.id)["parent_id"] == str(channel.id)
        await thread.send("- item one")
        assert [m["content"] for m in fake.messages(thread.id)] == ["- item one"]


async def test_fetch_member_without_the_members_intent(fake, world):
    client = make_client()
    async with fake.run(client):
        guild = client.get_guild(world["guild"])
        alice = await guild.fetch_member(world["alice"])  # GET /guilds/{guild}/members/{user}
        assert (alice.nick, alice.global_name, alice.name) == ("Ali", "Alice Liddell", "alice")
        assert alice.display_name == "Ali" and [r.id for r in alice.roles[1:]] == [world["chair_role"]]
        assert alice.joined_at is not None
        bob = await guild.fetch_member(world["bob"])
        assert bob.nick is None and bob.display_name == "bob_the_builder"
        answer = fake.requests[-1].response
        assert set(answer) >= {"user", "nick", "roles", "joined_at", "deaf", "mute", "flags", "pending"}

        fake.remove_member(world["guild"], world["bob"])
        with pytest.raises(discord.NotFound) as left:
            await guild.fetch_member(world["bob"])
        assert left.value.code == 10007 and left.value.text == "Unknown Member"
        with pytest.raises(discord.NotFound) as unknown:
            await guild.fetch_member(fake.next_id())
        assert unknown.value.code == 10013
    assert [r.route for r in fake.requests[-4:]] == ["/guilds/{guild_id}/members/{user_id}"] * 4
