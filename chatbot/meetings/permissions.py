"""Who may do what: the chair or an admin is in charge; while nobody is, anyone may act.

The table's `chair_only` commands are checked by the dispatcher; items and roles by their handlers.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatbot.meetings.context import CommandContext, Refusal


def in_charge(ctx: CommandContext) -> bool:
    """The caller chairs this meeting or is an admin of its series."""
    return ctx.chair_id == ctx.person.id or ctx.is_admin


def may_run_meeting(ctx: CommandContext) -> bool:
    """Start, end, skip or cancel: anyone while the meeting has no chair and the series no admins."""
    return in_charge(ctx) or (ctx.chair_id is None and not ctx.series.admins)


def may_appoint(ctx: CommandContext) -> bool:
    """Set the chair or the notetaker: anyone until someone holds the chair."""
    return in_charge(ctx) or ctx.chair_id is None


def may_edit(ctx: CommandContext, owner_ids: Iterable[int]) -> bool:
    """Change an agenda item: its presenter or whoever added it, or whoever is in charge."""
    return ctx.person.id in set(owner_ids) or in_charge(ctx)


def enforce(ctx: CommandContext) -> None:
    """The command table's permission flags, checked before the handler runs."""
    if ctx.command.chair_only and not may_run_meeting(ctx):
        raise Refusal(f"Only the chair or an admin of {ctx.series.name} can {ctx.command.act}.")


def require_may_appoint(ctx: CommandContext, role: str) -> None:
    if not may_appoint(ctx):
        raise Refusal(f"Only the chair or an admin can set the {role}.")


def require_may_edit(ctx: CommandContext, owner_ids: Iterable[int], number: int, what: str) -> None:
    if not may_edit(ctx, owner_ids):
        raise Refusal(f"Item {number} is not yours; only its presenter, the chair or an admin "
                      f"can {what} it.")
