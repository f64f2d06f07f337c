"""Every record that crosses a topic, the topic registry, the TradingView parser, the SQL
tables and the settings: what every layer may read."""
