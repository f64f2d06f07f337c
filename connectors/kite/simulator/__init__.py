"""A Kite Connect simulator on 127.0.0.1 that the unmodified kiteconnect SDK talks to: the REST
API (login token exchange, orders, order book, positions, instruments, GTT), the KiteTicker
websocket (binary quote packets, order updates as text), faults and scripted prices. Orders
are worked by the same simulated exchange as the SmartAPI simulator's."""
