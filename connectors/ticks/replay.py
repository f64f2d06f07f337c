"""Replay ticks from a CSV file: `ts,token,ltp[,volume]`, ts in epoch milliseconds or ISO-8601,
ltp in rupees. Speed: 1 = real time, N = N times faster, 0 = as fast as possible."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from schemas.money import rupees_to_paise


@dataclass(frozen=True)
class ReplayTick:
    ts_ms: int
    token: str
    ltp_paise: int
    volume: int | None


class ReplayError(ValueError):
    pass


def _ts(value: str) -> int:
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise ReplayError(f"timestamp {value!r} is neither epoch milliseconds nor ISO-8601") from None


def read(path: Path) -> Iterator[ReplayTick]:
    with open(path, newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or row[0].strip().startswith("#") or row[0].strip() == "ts":
                continue
            if len(row) < 3:
                raise ReplayError(f"{path}:{n}: expected ts,token,ltp[,volume]")
            try:
                volume = int(row[3]) if len(row) > 3 and row[3].strip() else None
                yield ReplayTick(_ts(row[0]), row[1].strip(), rupees_to_paise(row[2]), volume)
            except ValueError as exc:
                raise ReplayError(f"{path}:{n}: {exc}") from None


def delays(ticks: list[ReplayTick], speed: float) -> Iterator[tuple[float, ReplayTick]]:
    """Each tick with the seconds to wait before sending it."""
    previous = None
    for tick in ticks:
        wait = 0.0 if previous is None or speed <= 0 else max(0, tick.ts_ms - previous) / 1000 / speed
        previous = tick.ts_ms
        yield wait, tick
