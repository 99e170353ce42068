"""A whole meeting through the real slack_bolt and slack_sdk against the fake Slack, in both modes."""

from __future__ import annotations

from tests.adapters.slack.conftest import CH, DIGEST


async def test_whole_meeting(bot):
    fake = bot.fake
    answer = await bot.command("USARAH", "/meeting", "profile Sarah Gibson / 2i2c / @sgibson91")
    assert "Sarah Gibson / 2i2c / @sgibson91" in answer
    assert "on the roll call" in await bot.command("USARAH", "/meeting", "here")
    assert "on the roll call" in await bot.command("UMIN", "/meeting", "here")
    assert "is the chair" in await bot.command("USARAH", "/meeting", "chair <@USARAH|sgibson91>")
    assert "Simon Li is the notetaker" in await bot.command("USARAH", "/meeting", "notetaker <@USIMON|manics>")

    assert "Posting the call for updates" in await bot.command("USARAH", "/meeting", "remind")
    call = await fake.wait_for_call("chat.postMessage")
    assert call["channel"] == CH and "Call for updates" in call["text"]
    assert "<!date^" in call["text"]  # the start in each reader's zone
    (parent,) = fake.messages(CH)
    thread = parent["ts"]
    assert parent["metadata"]["event_payload"]["key"].startswith("hubs/")

    await bot.reply("USARAH", "I will be officially starting as JupyterHub Community Strategic Lead.", thread)
    await bot.reply("USIMON", "Z2JH 2.0.0-beta.1 almost ready "
                    "<https://github.com/jupyterhub/zero-to-jupyterhub-k8s/pull/2528/>", thread, escape_text=False)
    await bot.reply("UCALLUM", "apologies, cannot attend today. My update is that I will redeploy Turing's binder.",
                    thread)
    await bot.reply("URICK", "pass", thread)
    draft = await bot.reply("UMIN", "draft & unfinished", thread)
    await bot.deliver(fake.user_edits(CH, draft["ts"], "Released traitlets 5.4 & more"))
    gone = await bot.reply("UERIK", "posted by mistake", thread)
    await bot.deliver(fake.user_deletes(CH, gone["ts"]))
    assert fake.ephemerals == []  # good replies are taken silently

    assert "reports and celebrations" in await bot.command(
        "UERIK", "/celebrate", "mybinder.org-deploy updated with modern versions of prometheus")
    answer = await bot.command("UMIN", "/agenda",
                               "add (~5min) JupyterHub 3.0 https://github.com/jupyterhub/jupyterhub/issues/3982")
    assert answer.startswith("Added item 1: *Min RK* (~5min) JupyterHub 3.0")
    answer = await bot.command("USARAH", "/agenda", "add for <@URICK|rpwagner> (10 minutes) Workshops setup (optional)")
    assert "*Rick Wagner* (10 minutes) Workshops setup" in answer
    listing = await bot.command("UCALLUM", "/agenda", "list")
    assert "Agenda: 15 of 58 min" in listing and "JupyterHub 3.0" in listing

    assert "posting the digest" in await bot.command("USARAH", "/meeting", "compile")
    digest = await fake.wait_for_call("chat.postMessage", 2)
    await fake.wait_for(lambda: fake.files, what="the notes file")
    assert digest["channel"] == DIGEST
    summary = "\n".join(b["text"]["text"] for b in digest["blocks"])
    assert summary.startswith("*Notes: JupyterHub and BinderHub Team Meeting,")
    assert "Present: 2 · quick updates: 4 · passes: 1 · celebrations: 1 · agenda items: 2" in summary
    assert "Apologies: Callum" in summary
    assert "Agenda: 15 of 58 min" in summary
    assert "<https://hackmd.io/@sgibson91/hubs-team-meeting>" in summary
    assert all(b["type"] == "section" and len(b["text"]["text"]) <= 3000 for b in digest["blocks"])

    (notes,) = fake.files
    assert notes["channel"] == DIGEST and notes["filename"].startswith("hubs-") and notes["filename"].endswith(".md")
    text = notes["text"]
    assert text.startswith("# JupyterHub and BinderHub Team Meeting\n")
    assert "- Sarah Gibson / 2i2c / @sgibson91\n- Min RK\n" in text
    assert "- **Sarah Gibson** I will be officially starting as JupyterHub Community Strategic Lead." in text
    assert ("- **Simon Li** Z2JH 2.0.0-beta.1 almost ready "
            "<https://github.com/jupyterhub/zero-to-jupyterhub-k8s/pull/2528/>") in text
    assert "**Callum**" in text and "redeploy Turing's binder" in text
    assert "**Rick Wagner**" in text and "pass" in text
    assert "- **Min RK** Released traitlets 5.4 & more" in text and "draft" not in text
    assert "posted by mistake" not in text
    assert "- **Erik Sundell** mybinder.org-deploy updated with modern versions of prometheus" in text
    assert "- **Min RK** (~5min) JupyterHub 3.0 <https://github.com/jupyterhub/jupyterhub/issues/3982>" in text
    assert "- **Rick Wagner** (10 minutes) Workshops setup (optional)" in text
    assert "Notetaker: Simon Li" in text

    # A late reply updates the digest in place and says so once in the thread.
    await bot.reply("UERIK", "Late, but: new mybinder federation member", thread)
    await fake.wait_for(lambda: fake.updates, what="the digest edited in place")
    (edit,) = fake.updates
    assert edit["ts"] == digest_ts(fake) and "quick updates: 5" in edit["message"]["blocks"][0]["text"]["text"]
    notice = await fake.wait_for(lambda: [m for m in fake.messages(CH, thread_ts=thread)
                                          if m.get("bot_id") and m["ts"] != thread], what="the late notice")
    assert len(notice) == 1 and "updated in place" in notice[0]["text"]
    await fake.wait_for(lambda: len(fake.files) == 2, what="the updated notes")
    assert "new mybinder federation member" in fake.files[1]["text"]
    assert fake.files[1]["thread_ts"] == digest_ts(fake)
    await bot.reply("UMIN", "and one more", thread)
    await fake.wait_for(lambda: len(fake.updates) == 2, what="the second edit")
    assert len([m for m in fake.messages(CH, thread_ts=thread) if m.get("bot_id") and m["ts"] != thread]) == 1


def digest_ts(fake) -> str:
    return next(m["ts"] for m in fake.messages(DIGEST) if m.get("blocks"))
