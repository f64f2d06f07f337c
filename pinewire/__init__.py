"""Composition root: the CLI, `up`, and the supervision of the broker and processes it starts;
nothing below imports it."""
