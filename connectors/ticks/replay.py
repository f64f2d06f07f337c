"""Replay ticks from a CSV file. The header names the columns and their units:
`ts` (epoch milliseconds or ISO-8601) or `ts_ms` (epoch milliseconds); `token`; `ltp` (rupees)
or `ltp_paise`; optionally `volume` (the day's traded volume so far, as exchanges report it: the
candles take each window's increase). A file without a header is read as ts,token,ltp[,volume].
Speed: 1 = real time, N = N times faster, 0 = as fast as possible."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from schemas.money import rupees_to_paise

TIME_COLUMNS = ("ts", "ts_ms")
PRICE_COLUMNS = {"ltp": "rupees", "ltp_paise": "paise"}


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


def _paise(value: str) -> int:
    value = value.strip()
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"ltp_paise {value!r} is not a positive whole number of paise")
    return int(value)


@dataclass(frozen=True)
class Layout:
    ts: int
    token: int
    price: int
    volume: int | None
    in_paise: bool
    header: bool


def layout(first_row: list[str], path: Path) -> Layout:
    names = [c.strip().lower() for c in first_row]
    if not any(n in TIME_COLUMNS for n in names):
        if names and names[0].isdigit() or (names and names[0][:4].isdigit()):
            return Layout(0, 1, 2, 3, False, header=False)
        raise ReplayError(f"{path}: the header needs a time column (ts or ts_ms), token and a "
                          f"price column (ltp in rupees or ltp_paise); found {','.join(names)}")
    missing = [what for what, ok in (("token", "token" in names),
                                     ("ltp or ltp_paise", any(n in PRICE_COLUMNS for n in names)))
               if not ok]
    if missing:
        raise ReplayError(f"{path}: the header has no {' and no '.join(missing)} column")
    price = next(n for n in names if n in PRICE_COLUMNS)
    return Layout(next(i for i, n in enumerate(names) if n in TIME_COLUMNS), names.index("token"),
                  names.index(price), names.index("volume") if "volume" in names else None,
                  PRICE_COLUMNS[price] == "paise", header=True)


def describe(path: Path) -> str:
    """What the replay reads from this file, in words (printed by `pinewire feed --replay`)."""
    with open(path, newline="") as f:
        first = next((r for r in csv.reader(f) if r and not r[0].strip().startswith("#")), [])
    lay = layout(first, path)
    if not lay.header:
        return "no header: columns ts,token,ltp[,volume]; ts in epoch ms or ISO-8601, ltp in rupees"
    return (f"time from '{first[lay.ts].strip()}', token from '{first[lay.token].strip()}', "
            f"price from '{first[lay.price].strip()}' in {'paise' if lay.in_paise else 'rupees'}")


def read(path: Path) -> Iterator[ReplayTick]:
    with open(path, newline="") as f:
        lay = None
        for n, row in enumerate(csv.reader(f), 1):
            if not row or row[0].strip().startswith("#"):
                continue
            if lay is None:
                lay = layout(row, path)
                if lay.header:
                    continue
            try:
                volume = row[lay.volume].strip() if lay.volume is not None and \
                    len(row) > lay.volume else ""
                price = row[lay.price]
                yield ReplayTick(_ts(row[lay.ts]), row[lay.token].strip(),
                                 _paise(price) if lay.in_paise else rupees_to_paise(price),
                                 int(volume) if volume else None)
            except (ValueError, IndexError) as exc:
                raise ReplayError(f"{path}:{n}: {exc}") from None


def schedule(ticks: list[ReplayTick], speed: float) -> Iterator[tuple[float, ReplayTick]]:
    """Each tick with when to send it: seconds after the first (0 for all at speed 0). A
    sender that waits until then, rather than for the gap since the last, keeps real time
    however long the sending takes."""
    first = ticks[0].ts_ms if ticks else 0
    for tick in ticks:
        yield (0.0 if speed <= 0 else max(0, tick.ts_ms - first) / 1000 / speed), tick
