"""The HTTP load the serving benchmarks put on an endpoint: one-row JSON POSTs, a fixed concurrency."""
from __future__ import annotations

import asyncio
import statistics
import time


async def post_load(url: str, payloads: list[bytes], concurrency: int, total: int) -> dict:
    """`total` POSTs cycling through `payloads`, `concurrency` at a time (after a 50-request warm-up):
    requests per second, p50/p99 latency in ms, and the answers that were not 200."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(payload: bytes) -> None:
            nonlocal errors
            async with sem:
                start = time.perf_counter()
                async with session.post(url, data=payload, headers={"content-type": "application/json"}) as r:
                    await r.read()
                    errors += r.status != 200
                latencies.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(one(payloads[i % len(payloads)]) for i in range(min(50, total))))
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(one(payloads[i % len(payloads)]) for i in range(total)))
        wall = time.perf_counter() - start
    latencies.sort()
    return {"rps": total / wall, "p50": statistics.median(latencies), "p99": latencies[int(0.99 * len(latencies)) - 1],
            "errors": errors}
