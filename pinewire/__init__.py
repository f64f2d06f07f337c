"""Composition root: settings, CLI, embedded broker supervisor."""
