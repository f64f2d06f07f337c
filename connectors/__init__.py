"""The edges: tick feeds and brokers. Connectors translate; they never decide."""
