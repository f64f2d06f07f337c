"""Every record that crosses a topic, the topic registry, the TradingView parser and the SQL tables."""
