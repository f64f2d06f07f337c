"""Angel One SmartAPI: broker adapter, live tick and order-update clients, instrument master,
and a protocol-faithful simulator of the three endpoints for tests and rehearsals."""
