"""Posting the outbox's messages to Discord through discord.py: parts within the limit, edits in
place, a thread opened from a post, and no second copy after a crash."""

from __future__ import annotations

import contextlib
import hashlib
import io
import time
from collections import OrderedDict
from collections.abc import Sequence

import discord

from adapters.discord.render import render
from chatbot.events import Delivered, Post

NO_PINGS = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES = 10080  # a week: the call for updates goes out days before the meeting
THREAD_EXISTS = 160004
OPENED = 1000  # threads remembered as opened by this process


def nonce_for(*parts: object) -> str:
    """A stable nonce (Discord allows 25 characters) so that a resend is answered with the
    message already created instead of a second one."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]


class DiscordDelivery:
    """Posts from the outbox; any failure raises so the outbox keeps the row for a retry."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        # Threads opened by this process, whose posts the outbox may not have recorded yet.
        self.opened: OrderedDict[int, float] = OrderedDict()

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
        while len(self.opened) > OPENED:
            self.opened.popitem(last=False)
