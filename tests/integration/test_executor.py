"""The executor is idempotent by client order id: a redelivered intent gets the first answer."""
import asyncio

from connectors import kafka
from schemas import topics as registry
from schemas.records import OrderIntent
from tests.integration.harness import wait_until


def _send(pipeline, intent: OrderIntent) -> None:
    pipeline.produce(registry.ORDERS, intent, key=intent.position_id, instrument=intent.token)


def _fills(pipeline, coid: str) -> list[dict]:
    return [r[3] for r in pipeline.topic_records(registry.FILLS)
            if r[3]["client_order_id"] == coid]


def test_redelivered_intent_never_fills_twice(pipeline):
    intent = OrderIntent(client_order_id="feedfacecafe0000E0", position_id="feedfacecafe0000",
                         link_id="none", purpose="ENTRY", side="BUY", quantity=5, token="1922",
                         symbol="KOTAKBANK-EQ", exchange="NSE", paper=True, created_at_ms=1,
                         reference_price_paise=210000)
    _send(pipeline, intent)
    # no tick yet: the order rests, then fills at the intent's price after the fill timeout
    [first] = wait_until(lambda: _fills(pipeline, intent.client_order_id), 20, "the first fill")
    assert first["price_paise"] == 210000 and "alert's price" in first["text"]
    pipeline.ticks("KOTAKBANK", ["2150"])       # a new price: a second execution would use it
    _send(pipeline, intent)
    orders = registry.topic_name(pipeline.settings.namespace, registry.ORDERS)
    wait_until(lambda: asyncio.run(kafka.group_lag(pipeline.settings.bootstrap,
                                                   pipeline.settings.namespace,
                                                   [orders]))[orders]["lag"] == 0,
               20, "the worker to consume the redelivered intent")
    assert _fills(pipeline, intent.client_order_id) == [first], \
        "the redelivery was not executed again"
