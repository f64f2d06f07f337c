"""The exchange's clock: India Standard Time (no daylight saving) and the NSE session's open."""
from datetime import time, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30))
SESSION_OPEN = time(9, 15)
