"""Open-loop HTTP load, as TradingView sends alerts: a new TCP connection per request, sent on
schedule whether or not earlier ones were answered (so a slow server cannot slow the load and
hide its own latency). Runs in its own process:

    python -m bench.load REQUESTS.json RATE SECONDS OUT.json

REQUESTS.json: {"host", "port", "requests": [[path, body], ...]} (used round-robin).
OUT.json: per request [scheduled offset s, latency ms or null, status or error]."""
from __future__ import annotations

import asyncio
import json
import sys
import time

import uvloop

TIMEOUT_S = 3.0   # TradingView gives up after 3 s


async def one(host: str, port: int, path: str, body: bytes) -> tuple[int | str, float]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (path.encode(), host.encode(), len(body), body))
        status_line = await reader.readline()
        await reader.read()   # the rest, until the server closes
        return int(status_line.split()[1]), time.perf_counter()
    finally:
        writer.close()


async def run(spec: dict, rate: float, seconds: float) -> list:
    requests = [(path, body.encode()) for path, body in spec["requests"]]
    n = int(rate * seconds)
    results: list = [None] * n
    start = time.perf_counter() + 0.2

    async def fire(i: int) -> None:
        scheduled = start + i / rate
        path, body = requests[i % len(requests)]
        try:
            status, done = await asyncio.wait_for(one(spec["host"], spec["port"], path, body),
                                                  TIMEOUT_S)
            results[i] = [i / rate, round((done - scheduled) * 1000, 3), status]
        except asyncio.TimeoutError:
            results[i] = [i / rate, None, "timeout"]
        except OSError as exc:
            results[i] = [i / rate, None, type(exc).__name__]

    tasks = []
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i)))
    await asyncio.gather(*tasks)
    return results


def main() -> None:
    spec_path, rate, seconds, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    spec = json.loads(open(spec_path).read())
    results = uvloop.run(run(spec, rate, seconds))
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
