"""Upstox: the adapter (session, broker, orders, ticks, master, rate limits) and its
simulator."""
