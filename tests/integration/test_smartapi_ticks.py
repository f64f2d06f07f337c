"""The live tick connector on the simulator's market-data socket: exact prices, subscription
changes, and a dropped socket that reconnects, resubscribes and streams again."""
import asyncio

from connectors.smartapi import packets
from connectors.smartapi.ticks import SmartApiMarketStream as MarketStream
from tests.integration.harness import until
from tests.integration.test_smartapi_broker import _session


def test_ticks_unsubscribe_and_reconnect_after_a_drop(smartapi_sim, sim_account):
    session = _session(smartapi_sim, sim_account)
    seen: list[packets.MarketPacket] = []

    async def on_packet(p):
        seen.append(p)

    async def scenario():
        stream = MarketStream(session, smartapi_sim.ws_url, on_packet)
        task = asyncio.create_task(stream.run())
        try:
            await stream.set_tokens({"11483": 1, "5900": 1})
            await asyncio.wait_for(stream.connected.wait(), 10)
            await until(lambda: {p.token for p in seen} >= {"11483", "5900"}, 10, "snapshots")
            smartapi_sim.price("11483", "3611.15")
            await until(lambda: seen[-1].ltp_paise == 361115, 10, "the LT tick")
            assert (seen[-1].token, seen[-1].mode, seen[-1].exchange_type) == ("11483", 1, 1)

            await stream.set_tokens({"5900": 1})               # LT no longer wanted
            smartapi_sim.price("11483", "3625.05")
            smartapi_sim.price("5900", "1181.35")
            await until(lambda: seen[-1].ltp_paise == 118135, 10, "the AXISBANK tick")
            assert not [p for p in seen if p.ltp_paise == 362505], "an unsubscribed tick came"

            assert smartapi_sim.drop_streams() >= 1   # ours, and any other test's still open
            await until(lambda: stream.connections == 2 and stream.connected.is_set(), 15,
                        "the reconnection")
            smartapi_sim.price("5900", "1182.40")
            await until(lambda: seen[-1].ltp_paise == 118240, 10,
                        "ticks after resubscribing")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    asyncio.run(scenario())
