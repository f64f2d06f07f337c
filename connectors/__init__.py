"""The edges: Kafka I/O, tick feeds, brokers and their credentials. Connectors translate;
they never decide."""
