"""A SmartAPI simulator on 127.0.0.1: the REST API with its envelopes, error codes and rate
limits, the smart-stream market-data websocket and the order-update websocket, with faults
injected by configuration. It stands in for the exchange, which cannot run here."""
