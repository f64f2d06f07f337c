"""Kite Connect's limits per account (kite.trade docs, "API rate limit"): orders 10/s,
400/min and 5,000/day; quotes 1/s; historical data 3/s; every other endpoint 10/s. Over a
limit the API answers 429 "Too many requests"."""
from connectors.ratelimit import RateLimiter

LIMITS = {
    "order": ((10, 1.0), (400, 60.0), (5000, 86400.0)),   # place + modify + cancel
    "quote": ((1, 1.0),),
    "historical": ((3, 1.0),),
    "other": ((10, 1.0),),                                 # order book, positions, GTT, profile
}
LIMITER = RateLimiter(LIMITS)   # one per process: every session of an account shares it
