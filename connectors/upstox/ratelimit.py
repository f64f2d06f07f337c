"""Upstox's documented limits for its standard APIs, per user and API: 50 requests a second,
500 a minute, 2,000 in 30 minutes; over a limit it answers 429 (UDAPI10005)."""
from connectors.ratelimit import RateLimiter

STANDARD = ((50, 1.0), (500, 60.0), (2000, 1800.0))
LIMITS = {
    "order": STANDARD,      # place, modify, cancel
    "other": STANDARD,      # order book, positions, holdings, profile, feed authorization
}
LIMITER = RateLimiter(LIMITS)
