"""Starlette: the webhook gateway, the status page and the JSON API."""
