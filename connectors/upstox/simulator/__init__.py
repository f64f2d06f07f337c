"""An Upstox simulator on 127.0.0.1 that the unmodified upstox-python-sdk talks to: the OAuth
dialog and token exchange, orders, the order book, positions, holdings, the instrument file,
the feeds' authorize calls, the portfolio stream (JSON order updates) and the v3 market-data
feed (protobuf). Orders are worked by the same simulated exchange as the other simulators'."""
