"""The exchange's clock: India Standard Time (no daylight saving), the NSE session's open, its
trading days (weekends and NSE holidays — the `holidays` package's XNSE calendar — and any
extra holidays given are not), and time-of-day windows such as a link's entry window
("09:20-14:30")."""
import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

import holidays

IST = timezone(timedelta(hours=5, minutes=30))
SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)
# candle timeframes by label: minutes, and "D" the session's 375 minutes (09:15-15:30)
TIMEFRAMES = {"1": 1, "3": 3, "5": 5, "15": 15, "60": 60, "D": 375}
_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


def parse_window(text: str) -> tuple[time, time]:
    """'HH:MM-HH:MM' in IST, start before end; ValueError says what is wrong."""
    match = _WINDOW.fullmatch(text.replace(" ", "").replace("–", "-"))
    if not match:
        raise ValueError(f"{text!r} is not a window such as 09:20-14:30 (IST, 24-hour)")
    h1, m1, h2, m2 = map(int, match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start >= end:
        raise ValueError(f"the window {text!r} ends before it starts")
    return start, end


def in_window(window: str, at_ms: int) -> bool:
    """Whether the IST minute of `at_ms` lies in the window, both end minutes included."""
    start, end = parse_window(window)
    moment = datetime.fromtimestamp(at_ms / 1000, IST)
    return start <= time(moment.hour, moment.minute) <= end


def in_session(at_ms: int) -> bool:
    """Whether `at_ms` falls in the NSE session, 09:15 to 15:30 IST."""
    return SESSION_OPEN <= datetime.fromtimestamp(at_ms / 1000, IST).time() < SESSION_CLOSE


@lru_cache(maxsize=16)
def _nse_holidays(year: int):
    return holidays.financial_holidays("XNSE", years=year)


def is_trading_day(day: date, extra_holidays: frozenset[date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in _nse_holidays(day.year) and day not in extra_holidays
