"""The owner's table against the ledger: a live position the ledger holds at a newer version
than the owner's table does — or that the table lacks — is restored from the ledger.

The table is written first and the ledger hears of each version after (emit.store, then its
event), so on one owner the table is never behind the ledger. It falls behind when a partition
changes hands while its old owner's last writes are still on the way (a worker stalled past its
session is taken over, and its writes land in the changelog after the new owner recovered from
it): the new owner then holds an older version, or none, and the ticks of that instrument
would pass the position by — no stop, no target. Each worker compares its active partitions
with the ledger every `ledger_check_s`, once its tables have been recovered that long.
"""
from __future__ import annotations

from typing import Callable, Iterable

from agents.positions import Position


def behind(ledger_rows: Iterable[tuple[str, str, int]], load: Callable[[str], Position | None],
           partition_of: Callable[[str], int], actives: set[int]) -> list[str]:
    """Ids of the positions (id, token, version in the ledger: every live one, and those the
    table holds live) on this worker's active partitions that its table lacks or holds at an
    older version — a live one it lost, or one it holds open that the ledger saw close (its
    exit would be sent twice)."""
    found = []
    for position_id, token, version in ledger_rows:
        if partition_of(token) not in actives:
            continue
        mine = load(position_id)
        if mine is None or mine.version < version:
            found.append(position_id)
    return found
