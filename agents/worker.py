"""The worker process: every agent, the settings follower, the index rebuild and heartbeats."""
from __future__ import annotations

import logging
import os
import socket
import sys

from agents import app as A
from agents import ledger_agents, pipeline  # noqa: F401  (registers the agents)
from agents.emit import now_ms
from schemas.records import WorkerHeartbeat

log = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
memory = pipeline.memory


@A.app.task
async def _follow_settings() -> None:
    memory.config.start()
    await memory.config.caught_up.wait()
    live = {link["account_id"] for link in memory.config.values[memory.links_topic].values()
            if link and not link["paper"] and link.get("account_id")}
    pipeline.brokers.watch_accounts(live)


@A.positions.on_recover
async def _rebuild_index() -> None:
    actives = {tp.partition for tp in A.app.assignor.assigned_actives()}
    count = memory.rebuild(A.positions.items(), actives)
    log.info("index rebuilt: %d live positions on partitions %s", count, sorted(actives))


@A.app.timer(interval=A.S.heartbeat_s)
async def heartbeat() -> None:
    actives = sorted(tp.partition for tp in A.app.assignor.assigned_actives()
                     if tp.topic == A.ticks_topic.get_topic_name())
    standbys = sorted(tp.partition for tp in A.app.assignor.assigned_standbys()
                      if tp.topic == A.ticks_topic.get_topic_name())
    watched = {t for t, ids in memory.index.items() if ids}
    await A.workers_topic.send(key=WORKER_ID, value=WorkerHeartbeat(
        worker_id=WORKER_ID, host=socket.gethostname(), pid=os.getpid(), active=actives,
        standby=standbys, at_ms=now_ms(), last_tick_ms=memory.last_tick_ms,
        last_prices={t: list(memory.last_price[t]) for t in watched if t in memory.last_price},
        open_positions=sum(len(v) for v in memory.index.values())))


def main() -> None:
    sys.argv = [sys.argv[0], "worker", "--without-web", "-l", A.S.log_level.lower()
                .replace("warning", "warn")]
    A.app.main()


if __name__ == "__main__":
    main()
