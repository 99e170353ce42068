"""Posting the outbox's messages to Slack: parts within Slack's limits, edits in place, the notes
file shared and replaced, and no second copy after a crash (each message carries its key)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from chatbot.events import Delivered, Post

METADATA_TYPE = "chatbot_post"
# The outbox keeps a post's ids as one list: the notes file's id goes in it with this prefix, so a
# later edit (after a restart too) knows which file to replace.
FILE = "file:"
REMEMBERED = 1000  # steps done and threads opened, remembered by this process


def _split_ids(extra_ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """The further message ids of a post, and the ids of the files it shared."""
    parts = [i for i in extra_ids if not i.startswith(FILE)]
    return parts, [i.removeprefix(FILE) for i in extra_ids if i.startswith(FILE)]


def _join_ids(parts: Iterable[str], files: Iterable[str]) -> tuple[str, ...]:
    return (*parts, *(FILE + f for f in files))


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
            while len(self.opened) > REMEMBERED:
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
        while len(self._done) > REMEMBERED:
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
