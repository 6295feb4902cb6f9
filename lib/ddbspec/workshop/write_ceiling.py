"""An engine's write ceiling: what the benchmarks hold the loaders against.

A raw BatchWriteItem loop (low-level client, requests serialized before the clock starts,
nothing but the writes and their retries), at the worker count that is fastest on the engine
measured now. A loader near this rate is limited by the engine, not by itself.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

WORKER_COUNTS = (1, 2, 4, 8)


def raw_batch_write(client: Any, table: str, batches: list[list[dict]], workers: int) -> None:
    def write(batch: list[dict]) -> None:
        pending = batch
        while pending:
            answer = client.batch_write_item(RequestItems={table: pending})
            pending = answer.get("UnprocessedItems", {}).get(table, [])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(write, batches))


def best_workers(client: Any, table: str, parts: list[list[list[dict]]]) -> int:
    """The raw loop's fastest worker count on this engine, measured now: the counts take
    turns part by part (``parts``: the batches in parts of a fraction of a second), so that a
    burst of load on a shared machine lands on all of them, not on one."""
    seconds = dict.fromkeys(WORKER_COUNTS, 0.0)
    for batches in parts:
        for workers in WORKER_COUNTS:
            start = time.perf_counter()
            raw_batch_write(client, table, batches, workers)
            seconds[workers] += time.perf_counter() - start
    return min(seconds, key=seconds.__getitem__)
