"""The agenda: adding, listing, reordering, deferring and noting items, and carrying them over."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from chatbot.events import Answer, SendKind
from chatbot.meetings import fit, permissions
from chatbot.meetings.context import (
    CommandContext,
    Core,
    Refusal,
    display_names,
    following_meeting,
    occurrence_of,
)
from chatbot.schedule.series import Series
from chatbot.storage import outbox
from chatbot.storage.models import AgendaItem, Meeting, MeetingStatus, Note
from chatbot.text import markdown as md, posts
from chatbot.text.durations import DEFAULT_ESTIMATE_MINUTES, parse_estimate


def open_items(session: Session, meeting: Meeting) -> list[AgendaItem]:
    return list(session.exec(
        select(AgendaItem).where(AgendaItem.meeting_id == meeting.id, AgendaItem.status == "open")
        .order_by(AgendaItem.position, AgendaItem.id)
    ))


def _facts(item: AgendaItem) -> fit.ItemFacts:
    return fit.ItemFacts(item.id or 0, item.title, tuple(item.links.split()),
                         item.estimate_minutes, item.optional)


def plan(series: Series, items: Sequence[AgendaItem]) -> fit.Plan:
    """How the items fit the meeting's slot."""
    return fit.plan([_facts(i) for i in items],
                    slot_minutes=int(series.duration.total_seconds() // 60),
                    chair_minutes=int(series.chair_item.total_seconds() // 60))


def _renumber(items: Sequence[AgendaItem]) -> None:
    for position, each in enumerate(items, 1):
        each.position = position


def insert_item(session: Session, meeting: Meeting, item: AgendaItem, *,
                front: bool = False) -> AgendaItem | None:
    """Place a new item (carried-over ones first); the similar item it was grouped with, if any."""
    items = open_items(session, meeting)
    if front:
        index, grouped = sum(1 for i in items if i.carried_over), None
    else:
        index, grouped_facts = fit.insertion_index([_facts(i) for i in items], _facts(item))
        grouped = next((i for i in items if grouped_facts and i.id == grouped_facts.id), None)
    items.insert(index, item)
    session.add(item)
    _renumber(items)
    session.flush()
    return grouped


def item_number(items: Sequence[AgendaItem], number: int) -> AgendaItem:
    if not items:
        raise Refusal("The agenda is empty. Add an item with `/agenda add (~5min) <title>`.")
    if not 1 <= number <= len(items):
        raise Refusal(f"There is no item {number}; the agenda has items 1 to {len(items)} "
                      "(see `/agenda list`).")
    return items[number - 1]


def post_items(core: Core, session: Session, series: Series, meeting: Meeting,
               items: Sequence[AgendaItem]) -> None:
    """In a live meeting each item gets a post; replies under it are its notes."""
    for target in core.targets(series):
        for item in items:
            outbox.enqueue(session, series_id=series.id, occurrence=meeting.date,
                           meeting_id=meeting.id, kind=SendKind.AGENDA.of(item.id),
                           platform=target.platform, channel=target.channel, due=core.clock())


def carry_over(core: Core, session: Session, series: Series, meeting: Meeting,
               items: list[AgendaItem] | None = None, *,
               after: datetime | None = None) -> tuple[Meeting, list[AgendaItem]]:
    """Move a meeting's open agenda items (or the ones given) to the next meeting of the series
    (the first after `after`, if given), ahead of its own; that meeting and the items moved."""
    target = following_meeting(session, series, meeting, after)
    items = open_items(session, meeting) if items is None else items
    for item in items:
        _carry(core, session, item, target, status="carried")
    return target, items


def _carry(core: Core, session: Session, item: AgendaItem, target: Meeting, *, status: str) -> None:
    item.status = status
    copy = AgendaItem(
        meeting_id=target.id, presenter_id=item.presenter_id, added_by_id=item.added_by_id,
        title=item.title, estimate_minutes=item.estimate_minutes,
        estimate_text=item.estimate_text, optional=item.optional, links=item.links,
        position=0, carried_over=item.carried_over + 1, created_at=core.now(),
    )
    insert_item(session, target, copy, front=True)


# -- the /agenda commands ------------------------------------------------------------------------


def add(ctx: CommandContext) -> Answer:
    series, meeting, session = ctx.series, ctx.meeting, ctx.session
    caller = ctx.person
    presenter = ctx.mentioned(ctx.args["presenter"]) if ctx.args["presenter"] else caller
    try:
        estimate = parse_estimate(ctx.args["text"])
    except ValueError as error:
        raise Refusal(f"{str(error)[0].upper()}{str(error)[1:]}. Nothing was added.") from None
    if not estimate.title:
        raise Refusal("The item needs a title as well as an estimate. "
                      "Write it as `/agenda add (~5min) JupyterHub 3.0`.")
    item = AgendaItem(
        meeting_id=meeting.id, presenter_id=presenter.id, added_by_id=caller.id,
        title=estimate.title, estimate_minutes=estimate.minutes, estimate_text=estimate.written,
        optional=estimate.optional, links=" ".join(fit.links_in(estimate.title)),
        position=0, created_at=ctx.core.now(),
    )
    grouped = insert_item(session, meeting, item)
    items = open_items(session, meeting)
    number = items.index(item) + 1
    lines = [f"Added item {number}: {posts.item_line(ctx.name(presenter), item)}"]
    if grouped:
        lines.append(f"Grouped with the similar item {items.index(grouped) + 1}: "
                     f"{md.inline(grouped.title)}")
    if item.estimate_minutes is None:
        lines.append(f"No time estimate, so it counts as {DEFAULT_ESTIMATE_MINUTES} min; "
                     "add one like (~5min) to be exact.")
    lines.append(posts.plan_summary(plan(series, items)))
    if meeting.status == MeetingStatus.LIVE:
        post_items(ctx.core, session, series, meeting, [item])
    return Answer("\n".join(lines))


def show(ctx: CommandContext) -> Answer:
    series, meeting = ctx.series, ctx.meeting
    items = open_items(ctx.session, meeting)
    names = display_names(ctx.session, [i.presenter_id for i in items])
    return Answer(posts.agenda_listing(series, occurrence_of(series, meeting), items, names,
                                       plan(series, items)))


def _editable(ctx: CommandContext, what: str) -> tuple[list[AgendaItem], AgendaItem]:
    """The open items and the one the command names, which the caller must be allowed to change."""
    items = open_items(ctx.session, ctx.meeting)
    number = ctx.args["number"]
    item = item_number(items, number)
    permissions.require_may_edit(ctx, (item.presenter_id, item.added_by_id), number, what)
    return items, item


def remove(ctx: CommandContext) -> Answer:
    items, item = _editable(ctx, "remove")
    item.status = "removed"
    items.remove(item)
    _renumber(items)
    return Answer(f"Removed item {ctx.args['number']}: {md.inline(item.title)}\n"
                  f"{posts.plan_summary(plan(ctx.series, items))}")


def move(ctx: CommandContext) -> Answer:
    number, to = ctx.args["number"], ctx.args["to"]
    items, item = _editable(ctx, "move")
    if not 1 <= to <= len(items):
        raise Refusal(f"Place {to} is outside the agenda; use 1 to {len(items)}.")
    if to == number:
        raise Refusal(f"Item {number} is already at place {to}; nothing to move.")
    items.remove(item)
    items.insert(to - 1, item)
    _renumber(items)
    return Answer(f"Moved item {number} to place {to}: {md.inline(item.title)}")


def defer(ctx: CommandContext) -> Answer:
    items, item = _editable(ctx, "defer")
    target = following_meeting(ctx.session, ctx.series, ctx.meeting)
    _carry(ctx.core, ctx.session, item, target, status="deferred")
    items.remove(item)
    _renumber(items)
    return Answer(f"Deferred item {ctx.args['number']} to {posts.short_date(target.date)}: "
                  f"{md.inline(item.title)}")


def note(ctx: CommandContext) -> Answer:
    item = item_number(open_items(ctx.session, ctx.meeting), ctx.args["number"])
    ctx.session.add(Note(item_id=item.id, author_id=ctx.person.id, text=ctx.args["text"],
                         platform=ctx.call.actor.platform))
    return Answer(f"Noted under item {ctx.args['number']}: {md.inline(item.title)}")
