"""Angel One's limits per client code (smartapi.md, current documentation)."""
from connectors.ratelimit import RateLimiter

LIMITS = {
    "order": ((9, 1.0), (500, 60.0), (1000, 3600.0)),   # place + modify + cancel, combined
    "book": ((1, 1.0),),                                  # orderBook, tradeBook, position
    "login": ((1, 1.0),),
    "token": ((1, 1.0),),
    "profile": ((3, 1.0),),
    "candles": ((3, 1.0), (180, 60.0)),                   # getCandleData
    "ltp": ((10, 1.0),),    # getLtpData
    "rules": ((1, 1.0),),   # GTT ruleDetails, ruleList: not documented; kept as the books'
}
LIMITER = RateLimiter(LIMITS)   # one per process: every session of a client code shares it
