"""A trader's commands (schemas.records.Command CLOSE, CLOSE_ALL, ADJUST) at the owner of the
positions' partition. agents/manual.py decides; every position touched gets a MANUAL event on
its timeline, and each partition answers once with a COMMAND event (the ledger keeps it in
command_results, where the dashboard, the API, the CLI and Telegram read the outcome)."""
from __future__ import annotations

from agents import emit, manual, positions
from agents.pipeline import close_now, memory, protect_if_due
from agents.positions import LIVE_STATES, Position
from schemas.records import Command


async def handle(command: Command) -> None:
    if command.kind == "CLOSE_ALL":
        targets = [pos for pos in _live_here(command.partition) if _in_scope(pos, command)]
    else:
        pos = emit.load(command.position_id)
        targets = [pos if pos is not None and pos.user_id == command.user_id else None]
    results = [await _one(command, pos) for pos in targets]
    outcomes = {r["outcome"] for r in results}
    summary = (f"{len(results)} position(s): " + ", ".join(sorted(outcomes))) if results \
        else "no live position here"
    await emit.event("COMMAND", link_id="", partition=command.partition,
                     key=f"{command.command_id}:{command.partition}", user_id=command.user_id,
                     reason=summary if command.kind == "CLOSE_ALL" else results[0]["reason"],
                     detail={"command_id": command.command_id, "partition": command.partition,
                             "positions": results})


def _live_here(partition: int | None) -> list[Position]:
    found = (emit.load(pid) for pid in memory.live_ids())
    return [p for p in found if p is not None and p.partition == partition and
            p.state in LIVE_STATES]


def _in_scope(pos: Position, command: Command) -> bool:
    scope = command.scope or {}
    return pos.user_id == command.user_id and \
        scope.get("link_id", pos.link_id) == pos.link_id and \
        scope.get("account_id", pos.account_id) == pos.account_id


async def _one(command: Command, pos: Position | None) -> dict:
    by, now = command.by or "the trader", emit.now_ms()
    if command.kind == "ADJUST":
        answer = manual.adjust(pos, manual.Levels.from_dict(command.levels or {}),
                               memory.price(pos.token) if pos else None, now, by)
        if answer.outcome == manual.ADJUSTED:
            await emit.store(memory, answer.position, pos)
            await emit.event("MANUAL", link_id=pos.link_id, token=pos.token,
                             pos=answer.position, reason=answer.reason)
            await protect_if_due(answer.position)   # its broker rule follows at once
    else:
        answer = manual.close(pos, by)
        if answer.outcome == manual.CLOSING:
            await close_now(pos, answer.reason)
        elif answer.outcome == manual.CANCELLING:
            asked = positions.close_asked(pos, now)
            await emit.store(memory, asked, pos)
            await emit.order(asked, "CANCEL")
            await emit.event("MANUAL", link_id=pos.link_id, token=pos.token, pos=asked,
                             reason=answer.reason)
    return {"position_id": pos.id if pos else command.position_id,
            "symbol": pos.symbol if pos else None, "side": pos.side if pos else None,
            "outcome": answer.outcome, "reason": answer.reason}
