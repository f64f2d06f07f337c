"""The Faust app, its agents, and the pure functions that make every trading decision."""
