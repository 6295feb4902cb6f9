"""Loading items with BatchWriteItem, and checking that every item arrived.

The workshop loads a million log rows; the loader streams them in batches of 25 from a few
threads, each taking the next batch when it is done with its last, so memory stays flat at
any scale. A batch's UnprocessedItems (what a throttled table hands back) are retried with
backoff, for as long as the table keeps writing some of them. A load is checked by counting
the table afterwards (load_verified).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from ddbspec.capacity.costs import unmetered
from ddbspec.errors import THROTTLED, DdbSpecError, LoadError, code_of
from ddbspec.progress import Progress
from ddbspec.workshop.queries import paginate, serialize

BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_ATTEMPTS = 10


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
    """Write one batch; return how many of its items are still unwritten when MAX_ATTEMPTS
    attempts in a row wrote none of them. A table at its provisioned rate writes some items
    of each attempt: that is progress, and the load goes on at the table's pace."""
    pending, stalled = batch, 0
    while stalled < MAX_ATTEMPTS:
        if stalled:
            time.sleep(backoff_delay(stalled))
        try:
            response = client.batch_write_item(RequestItems={table: pending})
        except ClientError as e:
            if code_of(e) not in THROTTLED:
                raise
            stalled += 1  # the whole batch was refused: retry all of it
            continue
        left = response.get("UnprocessedItems", {}).get(table, [])
        if not left:
            return 0
        stalled = 0 if len(left) < len(pending) else stalled + 1
        pending = left
    return len(pending)


DEFAULT_WORKERS = 8  # measured: dynalite gains up to 8 requests in flight; moto is flat


@dataclass
class _Shared:
    """What the loader threads share: the batches to take, the tallies, the first error."""

    batches: Iterator[list[dict[str, Any]]]
    lock: threading.Lock = field(default_factory=threading.Lock)
    written: int = 0
    unwritten: int = 0
    error: BaseException | None = None
    stop: bool = False

    def take(self) -> list[dict[str, Any]] | None:
        with self.lock:  # the item generator runs under the lock: one thread at a time
            if self.stop:
                return None
            try:
                return next(self.batches, None)
            except BaseException as e:  # a bad CSV row: stop everyone, report it
                self.error, self.stop = e, True
                return None

    def settle(self, size: int, left: int) -> None:
        with self.lock:
            self.written += size - left
            self.unwritten += left
            if left:  # a batch that stays unwritten: stop taking new ones
                self.stop = True

    def fail(self, error: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = error
            self.stop = True


def _work(client: Any, table: str, shared: _Shared) -> None:
    while (batch := shared.take()) is not None:
        try:
            left = _write_batch(client, table, batch)
        except BaseException as e:
            shared.fail(e)
            return
        shared.settle(len(batch), left)


def load_requests(
    client: Any,
    table: str,
    requests: Iterable[dict[str, Any]],
    workers: int = DEFAULT_WORKERS,
    total: int | None = None,
) -> int:
    """Write BatchWriteItem put requests from ``workers`` threads; return how many were written.

    Each thread takes the next batch of 25 from the one stream and writes it, so at most
    ``workers`` batches exist at a time at any scale. Threads, not processes: the engine is
    the bottleneck (on 2 cores, dynalite's node process takes one, and a process per worker
    only adds its own client's CPU; measured). On the first batch that stays unwritten, or the
    first error (an engine that died answers every request with a connection error), the
    threads stop taking batches, and the load raises LoadError within one request's time.
    ``total`` (when known) draws a progress bar on a terminal.
    """
    shared = _Shared(batches(requests))
    bar = Progress(f"loading {table}", total)
    threads = [
        threading.Thread(target=_work, args=(client, table, shared), daemon=True)
        for _ in range(max(1, workers))
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
                bar.update(shared.written)
    except BaseException:  # Ctrl-C: let the threads finish the request they are in
        shared.fail(KeyboardInterrupt())
        for t in threads:
            t.join(5)
        raise
    finally:
        bar.close()
    if shared.error is not None:
        if isinstance(shared.error, DdbSpecError):
            raise shared.error
        raise LoadError(
            f"the load into {table} failed after writing {shared.written} items: "
            f"{type(shared.error).__name__}: {shared.error}. If the engine stopped, run again; "
            "a half-loaded table is not reused."
        ) from shared.error
    if shared.unwritten:
        raise LoadError(
            f"{shared.unwritten} items were not written to {table} after {MAX_ATTEMPTS} "
            f"attempts in a row that wrote none of them (the engine kept returning them "
            f"unprocessed); the load stopped after "
            f"writing {shared.written}. Give the table more write capacity or load with fewer "
            "workers."
        )
    return shared.written


def load(
    client: Any,
    table: str,
    items: Iterable[dict[str, Any]],
    workers: int = DEFAULT_WORKERS,
    *,
    serialized: bool = False,
    total: int | None = None,
) -> int:
    """Write every item; return how many were written, or raise LoadError saying how many were not.

    ``items`` are plain Python values, or with ``serialized`` already in DynamoDB's wire
    format (``datasets.log_table_items`` builds those directly: much cheaper than boto3's
    TypeSerializer for a million items of known types).
    """
    if serialized:
        requests: Iterable[dict[str, Any]] = ({"PutRequest": {"Item": i}} for i in items)
    else:
        requests = put_requests(items)
    return load_requests(client, table, requests, workers, total)


def count_items(client: Any, table: str, index: str | None = None) -> int:
    """Count by a paginated Scan (Select=COUNT); the base table is read consistently."""
    kwargs: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
    if index:
        kwargs["IndexName"] = index
    else:
        kwargs["ConsistentRead"] = True  # a count just after a load must see the whole load
    return sum(page["Count"] for page in paginate(client, "scan", **kwargs))


def load_verified(
    client: Any,
    table: str,
    items: Iterable[dict[str, Any]],
    workers: int = DEFAULT_WORKERS,
    *,
    serialized: bool = False,
    total: int | None = None,
) -> int:
    """Load into an empty table and check that it then holds exactly what was written.

    A count that differs means items were lost, or that two items shared a key and one
    overwrote the other: either way the figures computed from the data would not hold. The
    count is the suite's check, not the load's: a metered client does not charge it.
    """
    written = load(client, table, items, workers, serialized=serialized, total=total)
    with unmetered():
        held = count_items(client, table)
    if held != written:
        raise LoadError(f"loaded {written} items into {table} but the table holds {held}")
    return written
