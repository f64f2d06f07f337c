"""Zerodha Kite Connect: the adapter (session, broker, orders, ticks, master, rate limits) and
its simulator."""
