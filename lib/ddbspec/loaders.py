"""Loading items with BatchWriteItem, and checking that every item arrived.

The workshop loads a million log rows; the loader streams them in batches of 25 from a few
threads with a bounded number of batches in flight, so memory stays flat at any scale.
A batch's UnprocessedItems (what a throttled table hands back) are retried with backoff.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from ddbspec.errors import LoadError
from ddbspec.queries import paginate, serialize

BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_ATTEMPTS = 10
_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
}


def put_requests(items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Plain Python items -> BatchWriteItem put requests in DynamoDB's wire format."""
    for item in items:
        yield {"PutRequest": {"Item": serialize(item)}}


def batches(requests: Iterable[dict[str, Any]], size: int = BATCH_SIZE) -> Iterator[list[Any]]:
    it = iter(requests)
    while batch := list(islice(it, size)):
        yield batch


def backoff_delay(
    attempt: int, base: float = 0.05, cap: float = 5.0, rand: Callable[[], float] = random.random
) -> float:
    """Full jitter: a random wait up to base * 2**attempt, so retrying threads spread out."""
    return rand() * min(cap, base * 2**attempt)


def _write_batch(client: Any, table: str, batch: list[dict[str, Any]]) -> int:
    """Write one batch; return how many of its items are still unwritten after every attempt."""
    pending = batch
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            time.sleep(backoff_delay(attempt))
        try:
            response = client.batch_write_item(RequestItems={table: pending})
        except ClientError as e:
            if e.response["Error"]["Code"] not in _THROTTLED:
                raise
            continue  # the whole batch was refused: retry all of it
        pending = response.get("UnprocessedItems", {}).get(table, [])
        if not pending:
            return 0
    return len(pending)


def load(client: Any, table: str, items: Iterable[dict[str, Any]], workers: int = 4) -> int:
    """Write every item; return how many were written, or raise LoadError saying how many were not.

    On the first batch that stays unwritten the load stops taking new batches, so a table that
    cannot keep up fails in seconds rather than after the whole data set.
    """
    written = unwritten = 0
    in_flight: dict[Future[int], int] = {}
    limit = 2 * workers

    def settle(done: Iterable[Future[int]]) -> None:
        nonlocal written, unwritten
        for f in done:
            size = in_flight.pop(f)
            left = f.result()
            written += size - left
            unwritten += left

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"load-{table}") as pool:
        for batch in batches(put_requests(items)):
            if len(in_flight) >= limit:
                settle(wait(in_flight, return_when=FIRST_COMPLETED).done)
            if unwritten:
                break
            in_flight[pool.submit(_write_batch, client, table, batch)] = len(batch)
        settle(wait(in_flight).done)
    if unwritten:
        raise LoadError(
            f"{unwritten} items were not written to {table} after {MAX_ATTEMPTS} attempts "
            f"(the engine kept returning them unprocessed); the load stopped after writing "
            f"{written}. Give the table more write capacity or load with fewer workers."
        )
    return written


def count_items(client: Any, table: str, index: str | None = None) -> int:
    """Count by a paginated Scan (Select=COUNT); the base table is read consistently."""
    kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
    if index:
        kwargs["IndexName"] = index
    else:
        kwargs["ConsistentRead"] = True  # a count just after a load must see the whole load
    return sum(page["Count"] for page in paginate(client, "scan", **kwargs))


def load_verified(
    client: Any, table: str, items: Iterable[dict[str, Any]], workers: int = 4
) -> int:
    """Load into an empty table and check that it then holds exactly what was written.

    A count that differs means items were lost, or that two items shared a key and one
    overwrote the other: either way the figures computed from the data would not hold.
    """
    written = load(client, table, items, workers)
    held = count_items(client, table)
    if held != written:
        raise LoadError(f"loaded {written} items into {table} but the table holds {held}")
    return written
