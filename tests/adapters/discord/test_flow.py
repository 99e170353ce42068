"""A whole meeting on Discord, through the real discord.py client and the fake Discord."""

from __future__ import annotations

from chatbot.storage.models import Note, Outbox, Update
from tests.adapters.discord.conftest import TIMEOUT

DATE = "Tue 17 Mar 2026"
MEETING_START = 1773766800  # 2026-03-17 17:00 UTC


def _bot_posts(fake, channel: int) -> list[dict]:
    return fake.bot_messages(channel)


async def test_command_tree_is_the_command_table(bot, fake):
    assert len(fake.command_syncs) == 1 and fake.command_syncs[0].guild_id is None
    tree = {c["name"]: c for c in fake.commands()}
    assert list(tree) == ["agenda", "update", "apologies", "celebrate", "meeting"]

    def options(command: str, sub: str | None = None) -> dict:
        node = tree[command]
        if sub is not None:
            node = next(o for o in node["options"] if o["name"] == sub)
        return {o["name"]: (o["type"], o.get("required", False)) for o in node.get("options", [])}

    assert [o["name"] for o in tree["agenda"]["options"]] == ["add", "list", "remove", "move", "defer", "note"]
    assert options("agenda", "add") == {"text": (3, True), "presenter": (6, False)}
    assert options("agenda", "move") == {"number": (4, True), "to": (4, True)}
    assert options("update") == {"text": (3, True)}
    assert options("apologies") == {"text": (3, False)}
    assert options("celebrate") == {"text": (3, True)}
    assert [o["name"] for o in tree["meeting"]["options"]] == [
        "status", "help", "here", "profile", "chair", "notetaker", "remind", "compile", "start", "end",
        "action", "skip", "cancel"]
    assert options("meeting", "profile") == {"name": (3, True), "institution": (3, False),
                                             "github": (3, False)}
    assert options("meeting", "chair") == {"user": (6, True)}
    assert options("meeting", "action") == {"user": (6, True), "text": (3, True)}
    assert all(c["contexts"] == [0] for c in tree.values())  # servers only, never DMs


async def test_a_whole_meeting(bot, fake, world):
    w = world
    # Roll call: a profile wins over the display name; the display name is the nickname, else
    # the global name, else the user name.
    answer = await bot.command(w.simon, "meeting", "profile", name="Simon Li",
                               institution="University of Dundee", github="@manics")
    assert "Simon Li / University of Dundee / @manics" in answer
    for person in (w.simon, w.sarah, w.callum):
        assert DATE in await bot.command(person, "meeting", "here")
    assert "Sarah Gibson" in await bot.command(w.sarah, "meeting", "chair", user=w.sarah)
    assert "Simon Li is the notetaker" in await bot.command(w.sarah, "meeting", "notetaker", user=w.simon)

    # The call for updates opens a thread from its own message.
    assert "Posting the call for updates" in await bot.command(w.sarah, "meeting", "remind")
    call = await fake.wait_for_message(w.channel, lambda m: "Call for updates" in m["content"])
    thread = (await fake.wait_until(lambda: fake.threads(w.channel), TIMEOUT, "the updates thread"))[0]
    assert thread["id"] == call["id"] and thread["owner_id"] == str(fake.bot_user_id)
    assert f"<t:{MEETING_START}:F> (<t:{MEETING_START}:R>)" in call["content"]
    assert fake.allowed_mentions(call["id"]) == {"parse": []}
    sent = await fake.wait_for(lambda r: r.method == "POST" and r.path == f"/channels/{w.channel}/messages")
    assert sent.json["nonce"] and len(sent.json["nonce"]) <= 25 and sent.json["enforce_nonce"] is True
    tid = int(thread["id"])

    # Replies in the thread are quick updates; several by one person join in order.
    await fake.user_message(tid, w.simon, "Z2JH 2.0.0-beta.1 almost (hopefully) ready "
                                          "https://github.com/jupyterhub/zero-to-jupyterhub-k8s/pull/2528/")
    await fake.user_message(tid, w.simon, "and a chart for <@%d> to review" % w.min)
    await fake.user_message(tid, w.min, "pass")
    await fake.user_message(tid, w.callum, "apologies, cannot attend today. My update is that I am "
                                           "going to redeploy Turing's binder.")
    draft = await fake.user_message(tid, w.rick, "first draft of my update")
    doomed = await fake.user_message(tid, w.erik, "this one will be deleted")
    # Sent while the bot was away, then edited: the edit is all the bot ever sees.
    unseen = await fake.user_message(tid, w.sarah, "typed while the bot was down", dispatch=False)
    # Not ours: a message outside the thread, and another bot in the thread.
    await fake.user_message(w.channel, w.simon, "chatter in the channel")
    await fake.user_message(tid, w.other_bot, "I am a bot")
    await bot.settle()

    # Edits and deletions arrive for messages discord.py never cached.
    assert not bot.adapter.client.cached_messages
    await fake.edit_message(tid, int(draft["id"]), "Workshop hub is live for the summer school")
    await fake.delete_message(tid, int(doomed["id"]))
    await fake.edit_message(tid, int(unseen["id"]), "I will be starting as Community Strategic Lead")
    await bot.settle()
    assert bot.count(Update) == 6  # simon ×2, min's pass, callum, rick, sarah

    # Agenda items with estimates, and a celebration.
    answer = await bot.command(w.min, "agenda", "add",
                               text="(~5min) JupyterHub 3.0 https://github.com/jupyterhub/jupyterhub/issues/3982")
    assert "Added item 1" in answer and "(~5min)" in answer
    answer = await bot.command(w.sarah, "agenda", "add", text="JupyterHub for workshops setup (10 minutes) (optional)",
                               presenter=w.rick)
    assert "Added item 2" in answer and "Rick Wagner" in answer
    listing = await bot.command(w.sarah, "agenda", "list")
    assert "**Min RK** (~5min) JupyterHub 3.0" in listing and "Agenda: 15 of 58 min" in listing
    assert "Added to reports and celebrations" in await bot.command(
        w.erik, "celebrate", text="mybinder.org-deploy updated with modern versions of prometheus")
    status = await bot.command(w.callum, "meeting", "status")
    assert "JupyterHub and BinderHub Team Meeting" in status and f"<t:{MEETING_START}:F>" in status

    # Compile: a summary within 2,000 characters and the full notes as a Markdown file.
    assert "Compiled the notes" in await bot.command(w.sarah, "meeting", "compile")
    digest = await fake.wait_for_message(w.digest, lambda m: m["attachments"])
    assert len(digest["content"]) <= 2000 and "Notes: JupyterHub and BinderHub Team Meeting" in digest["content"]
    assert "Apologies: callum" in digest["content"]
    [(filename, data)] = fake.message_files(digest)
    assert filename == "hubs-2026-03-17.md"
    notes = data.decode()
    for line in (
        "- Simon Li / University of Dundee / @manics",
        "- Sarah Gibson",
        "- **callum** apologies, cannot attend today. My update is that I am going to redeploy Turing's binder.",
        "- **Simon Li** Z2JH 2.0.0-beta.1 almost (hopefully) ready "
        "<https://github.com/jupyterhub/zero-to-jupyterhub-k8s/pull/2528/>",
        "    - and a chart for @Min RK to review",
        "- **Min RK** pass",
        "- **Rick Wagner** Workshop hub is live for the summer school",
        "- **Sarah Gibson** I will be starting as Community Strategic Lead",
        "- **Erik Sundell** mybinder.org-deploy updated with modern versions of prometheus",
        "    - Notetaker: Simon Li",
        "- **Min RK** (~5min) JupyterHub 3.0 <https://github.com/jupyterhub/jupyterhub/issues/3982>",
        "- **Rick Wagner** (10 minutes) JupyterHub for workshops setup (optional)",
    ):
        assert line in notes.splitlines(), line
    assert "first draft" not in notes and "will be deleted" not in notes and "I am a bot" not in notes
    assert notes.index("**callum**") < notes.index("**Simon Li** Z2JH")  # apologies first

    # A late reply updates the digest in place and says so once in the thread.
    await fake.wait_until(lambda: bot.count(Outbox, Outbox.kind == "digest", Outbox.status == "sent"),
                          TIMEOUT, "the digest to be recorded as sent")
    patches = fake.mark()
    await fake.user_message(tid, w.erik, "late: the new grafana dashboards are up")
    edit = await fake.wait_for(lambda r: r.method == "PATCH" and r.path.endswith(f"/messages/{digest['id']}"),
                               since=patches)
    assert edit.json["allowed_mentions"] == {"parse": []}
    notice = await fake.wait_for_message(tid, lambda m: m["author"]["id"] == str(fake.bot_user_id))
    assert "digest was updated in place" in notice["content"]
    await fake.wait_until(lambda: any(
        "new grafana dashboards" in data.decode() for _, data in fake.message_files(digest["id"])),
        TIMEOUT, "the digest's file to be replaced")
    assert len(fake.bot_messages(w.digest)) == 1
    # Every message the bot posted asked Discord to ping nobody.
    for channel in (w.channel, w.digest, tid):
        for message in fake.bot_messages(channel):
            assert fake.allowed_mentions(message["id"]) == {"parse": []}


async def test_a_live_meeting_takes_notes_in_item_threads(bot, fake, world):
    w = world
    await bot.command(w.min, "agenda", "add", text="(~5min) JupyterHub 3.0")
    await bot.command(w.rick, "agenda", "add", text="Workshops (10 minutes)")
    assert "live with 2 agenda items" in await bot.command(w.sarah, "meeting", "start")
    await fake.wait_until(lambda: len(fake.threads(w.channel)) == 2, TIMEOUT, "a thread per item")
    items = {m["content"]: int(m["id"]) for m in fake.bot_messages(w.channel)}
    first = next(i for text, i in items.items() if "JupyterHub 3.0" in text)
    await fake.user_message(first, w.simon, "Ready to make a release, fairly small but a major release (3.0.0)")
    assert "Action for Min RK" in await bot.command(w.simon, "meeting", "action", user=w.min,
                                                    text="Add changelog entries when opening breaking PRs")
    assert bot.count(Note) == 1
    answer = await bot.command(w.sarah, "meeting", "end")
    assert "Carried 1 items without notes" in answer and "Archived as" in answer
    digest = await fake.wait_for_message(w.digest, lambda m: m["attachments"])
    notes = fake.message_files(digest)[0][1].decode()
    assert "    - **Simon Li** Ready to make a release, fairly small but a major release (3.0.0)" in notes
    assert "    - Action: **Min RK** Add changelog entries when opening breaking PRs" in notes


async def test_help_and_bad_input_get_clear_answers(bot, fake, world):
    help_text = await bot.command(world.simon, "meeting", "help")
    assert "/agenda add" in help_text and "/meeting profile" in help_text
    assert "The agenda is empty" in await bot.command(world.simon, "agenda", "remove", number=3)
    answer = await bot.command(world.simon, "meeting", "profile", name="Simon", github="not a handle!")
    assert answer.startswith("⚠️") and "not a GitHub handle" in answer
    answer = await bot.command(world.simon, "meeting", "profile", name="Simon / Li")
    assert "cannot contain '/'" in answer
    answer = await bot.command(world.simon, "meeting", "profile", name="Simon", institution="simon@example.org")
    assert "never holds an email" in answer
    answer = await bot.command(world.simon, "agenda", "add", text="(~5min)")
    assert "needs a title" in answer
    answer = await bot.command(world.simon, "meeting", "frobnicate")  # a command Discord no longer lists
    assert "not a command of this bot" in answer and "discord-sync" in answer
