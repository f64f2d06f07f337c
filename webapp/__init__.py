"""Starlette: the webhook gateway, the status page and the JSON API, and the trader's records
behind them (users, links, accounts, bots, P&L)."""
