"""Loading into a table of limited capacity: the workshop's loaders, and one that paces itself.

The workshop loads as fast as it can and lets the SDK retry what is throttled, with botocore's
legacy policy for DynamoDB (waits of 0.05 s doubling each time, 10 attempts): past the burst
credit such a loader spends its time in retries, and once a write has failed ten times the
error reaches the caller (the workshop's "reached max retries: 9"). ``load_paced`` instead
reads ConsumedCapacity from every answer and spends, per second, what the table and each of
its global secondary indexes are provisioned for: it sustains the provisioned rate and no
throttling error reaches its caller.

Every loader sleeps on a ``Clock``, so on the capacity gateway's scaled clock the waits are
scaled with the buckets, and returns a ``LoadLog`` of its requests, for the specs to read
the workshop's shape from (rows per 100, where the burst ran out).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ddbspec.capacity.model import Clock, Schema, TokenBucket, real_clock, write_cost
from ddbspec.errors import THROTTLED, LoadError, code_of
from ddbspec.workshop.loaders import BATCH_SIZE, batches

LEGACY_BASE = 0.05  # botocore's legacy retry policy for DynamoDB (its _retry.json)
LEGACY_ATTEMPTS = 10


def legacy_delay(failures: int) -> float:
    """botocore's legacy wait before retry number ``failures`` (1-based): 0.05 * 2**(n-1)."""
    return LEGACY_BASE * 2 ** max(0, failures - 1)


@dataclass(frozen=True)
class Call:
    """One request a loader made: when (clock times), how many items, how many were written."""

    sent: float
    answered: float
    items: int
    written: int
    error: str | None = None  # the throttling error the request got, if it got one


@dataclass
class LoadLog:
    """What a load did, request by request. Thread-safe to append to."""

    calls: list[Call] = field(default_factory=list)
    errors: list[ClientError] = field(default_factory=list)  # what reached the caller
    refusals: list[ClientError] = field(default_factory=list)  # throttling errors, retried
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, call: Call, refusal: ClientError | None = None) -> None:
        with self._lock:
            self.calls.append(call)
            if refusal is not None:
                self.refusals.append(refusal)

    @property
    def written(self) -> int:
        return sum(c.written for c in self.calls)

    @property
    def throttled(self) -> int:
        """Requests that had items handed back or were refused outright."""
        return sum(c.written < c.items for c in self.calls)

    def first_shortfall(self) -> int | None:
        """Items written before the first one the table handed back: where the credit ran out."""
        written = 0
        for call in sorted(self.calls, key=lambda c: c.answered):
            if call.written < call.items:
                return written + call.written
            written += call.written
        return None

    def progress(self) -> list[tuple[float, int]]:
        """(clock time, items written so far) after each request that wrote something."""
        points, written = [], 0
        for call in sorted(self.calls, key=lambda c: c.answered):
            if call.written:
                written += call.written
                points.append((call.answered, written))
        return points

    def seconds_per(self, rows: int = 100, start: float | None = None) -> list[float]:
        """The workshop's printout: seconds each successive ``rows`` rows took to write."""
        times, mark, at = [], start, rows
        if mark is None:
            mark = min((c.sent for c in self.calls), default=0.0)
        for t, written in self.progress():
            while written >= at:
                times.append(t - mark)
                mark, at = t, at + rows
        return times

    def span(self) -> tuple[float, float]:
        return min(c.sent for c in self.calls), max(c.answered for c in self.calls)

    def rate(self) -> float:
        """Items written a second, from the first request sent to the last one answered."""
        start, end = self.span()
        return self.written / (end - start) if end > start else math.inf


def never_throttled(log: LoadLog, table: str, wcu: float) -> str:
    """What a load that a table of ``wcu`` should have throttled, and did not, says: the
    endpoint does not enforce provisioned capacity (an emulator of AWS, say)."""
    return (
        f"the table {table} never throttled: {log.written} items written at {log.rate():.0f} "
        f"a second against its {wcu:g} WCU, none handed back. This endpoint does not enforce "
        "provisioned capacity, which is what exercise 1 is about: run it on AWS, under "
        "`ddbspec mock-aws`, or on a local engine (through the suite's capacity gateway)"
    )


def _throttled(problem: ClientError) -> bool:
    return code_of(problem) in THROTTLED


def load_like_the_workshop(
    client: Any,
    table: str,
    items: Iterable[Mapping[str, Any]],
    clock: Clock | None = None,
    batch_size: int = BATCH_SIZE,
    log: LoadLog | None = None,
) -> LoadLog:
    """The workshop's load_tlog.py: as fast as it can, one request after the other, retrying
    with botocore's legacy policy; after ten attempts without progress the throttling error
    reaches the caller (raised). ``items`` are in DynamoDB's wire format.

    It writes in BatchWriteItem requests of ``batch_size`` (the workshop's script made one
    PutItem per row; 1 is that): the service meters each item of a batch as the PutItem it
    stands for, so the capacity spent is the same, in far fewer requests.
    """
    clock, log = clock or real_clock(), log if log is not None else LoadLog()
    for batch in batches(({"PutRequest": {"Item": i}} for i in items), batch_size):
        pending, failures = batch, 0
        while pending:
            sent, refusal = clock.now(), None
            try:
                if batch_size == 1:
                    client.put_item(TableName=table, Item=pending[0]["PutRequest"]["Item"])
                    left = []
                else:
                    answer = client.batch_write_item(RequestItems={table: pending})
                    left = answer.get("UnprocessedItems", {}).get(table, [])
            except ClientError as problem:
                if not _throttled(problem):
                    raise
                left, refusal = pending, problem
            code = refusal and code_of(refusal)
            log.record(
                Call(sent, clock.now(), len(pending), len(pending) - len(left), code), refusal
            )
            failures = 0 if len(left) < len(pending) else failures + 1
            if failures >= LEGACY_ATTEMPTS:
                assert refusal is not None or left
                if refusal is not None:
                    log.errors.append(refusal)
                    raise refusal
                raise LoadError(f"{len(left)} items stayed unprocessed after {failures} attempts")
            pending = left
            if pending:
                clock.sleep(legacy_delay(max(1, failures)))
    return log


def put_in_parallel(
    client: Any,
    table: str,
    streams: Sequence[Iterable[Mapping[str, Any]]],
    clock: Clock | None = None,
    stop: Callable[[LoadLog], bool] = lambda log: False,
) -> LoadLog:
    """The workshop's load_tlog_parallel.py: one thread per stream of items, one PutItem per
    item, botocore's legacy retries; a write that fails ten times ends its thread with the
    error (in ``errors``). Every thread ends when ``stop(log)`` says so (the workshop's
    Ctrl+C)."""
    clock, log = clock or real_clock(), LoadLog()

    def run(stream: Iterable[Mapping[str, Any]]) -> None:
        for item in stream:
            for failures in range(1, LEGACY_ATTEMPTS + 1):
                if stop(log):
                    return
                sent = clock.now()
                try:
                    client.put_item(TableName=table, Item=item)
                except ClientError as problem:
                    if not _throttled(problem):
                        raise
                    code = code_of(problem)
                    log.record(Call(sent, clock.now(), 1, 0, code), problem)
                    if failures == LEGACY_ATTEMPTS:
                        log.errors.append(problem)
                        return
                    clock.sleep(legacy_delay(failures))
                    continue
                log.record(Call(sent, clock.now(), 1, 1))
                break

    with ThreadPoolExecutor(len(streams), thread_name_prefix=f"put-{table}") as pool:
        for done in [pool.submit(run, s) for s in streams]:
            done.result()
    return log


# --- The capacity-aware loader ---------------------------------------------------------------


class Pacer:
    """Client-side buckets, one per meter of the table (itself and each global index),
    filled at the provisioned write rate: a batch goes when every meter it will cost has
    the units for it. Consumed capacity read from each answer corrects the estimate; a
    throttled answer (the server's credit is lower than the client's account, e.g. another
    writer) slows the pace by a fifth, and each clean batch wins back 2%."""

    def __init__(self, clock: Clock, rates: Mapping[str | None, float], burst: float) -> None:
        self.clock, self.rates = clock, dict(rates)
        self.share = 1.0
        self.buckets = {m: TokenBucket(r, burst / r, 0.0, clock.now()) for m, r in rates.items()}
        self._lock = threading.Lock()

    def wait_for(self, costs: Mapping[str | None, float]) -> None:
        """Block until every meter has the units ``costs`` names (a cost larger than a
        bucket can hold waits for a full bucket), then spend them."""
        while True:
            with self._lock:
                now = self.clock.now()
                waits = [
                    (min(units, b.capacity) - b.level(now)) / b.rate
                    for m, units in costs.items()
                    if (b := self.buckets.get(m)) is not None
                ]
                if max(waits, default=0.0) <= 0:
                    for m, units in costs.items():
                        if m in self.buckets:
                            self.buckets[m].take(units, now)
                    return
            self.clock.sleep(max(waits))

    def correct(
        self, estimated: Mapping[str | None, float], used: Mapping[str | None, float]
    ) -> None:
        with self._lock:
            now = self.clock.now()
            for m, bucket in self.buckets.items():
                bucket.take(used.get(m, 0.0) - estimated.get(m, 0.0), now)

    def throttled(self) -> None:
        self._rescale(max(0.25, self.share * 0.8))

    def clean(self) -> None:
        if self.share < 1.0:
            self._rescale(min(1.0, self.share + 0.02))

    def _rescale(self, share: float) -> None:
        with self._lock:
            now, self.share = self.clock.now(), share
            for m, bucket in self.buckets.items():
                bucket.set_rate(self.rates[m] * share, now)


def provisioned_writes(desc: Mapping[str, Any]) -> dict[str | None, float]:
    """Write capacity of the table (None) and of each global index; {} when on demand."""
    if (desc.get("BillingModeSummary") or {}).get("BillingMode") == "PAY_PER_REQUEST":
        return {}
    rates: dict[str | None, float] = {None: desc["ProvisionedThroughput"]["WriteCapacityUnits"]}
    for index in desc.get("GlobalSecondaryIndexes") or ():
        rates[index["IndexName"]] = index["ProvisionedThroughput"]["WriteCapacityUnits"]
    return rates


def _consumed(answer: Mapping[str, Any], table: str) -> dict[str | None, float] | None:
    """Units per meter from a BatchWriteItem's ConsumedCapacity (asked with INDEXES), or
    None when the answer has none for the table."""
    for consumed in answer.get("ConsumedCapacity") or ():
        named = str(consumed.get("TableName"))
        if named == table or named.endswith(f":table/{table}"):
            on_table = (consumed.get("Table") or {}).get("CapacityUnits")
            used: dict[str | None, float] = {None: on_table or consumed["CapacityUnits"]}
            for name, units in (consumed.get("GlobalSecondaryIndexes") or {}).items():
                used[name] = units["CapacityUnits"]
            return used
    return None


def load_paced(
    client: Any,
    table: str,
    items: Iterable[Mapping[str, Any]],
    clock: Clock | None = None,
    workers: int = 2,
    batch_size: int = BATCH_SIZE,
    patience: float = 300.0,
) -> LoadLog:
    """Write ``items`` (wire format) at the pace the table and its indexes are provisioned
    for, never faster: with BatchWriteItem, ReturnConsumedCapacity=INDEXES, and ``workers``
    requests in flight. A throttled answer is retried, never raised; only a table that writes
    nothing for ``patience`` seconds makes it give up (LoadError). On an on-demand table it
    writes as fast as the workers go."""
    clock = clock or real_clock()
    desc = client.describe_table(TableName=table)["Table"]
    schema = Schema.from_description(desc)
    rates = provisioned_writes(desc)
    pacer = Pacer(clock, rates, burst=max(1.0, batch_size * 2.0)) if rates else None
    log = LoadLog()

    def estimate(batch: list[dict[str, Any]]) -> dict[str | None, float]:
        costs: dict[str | None, float] = {}
        for request in batch:
            cost = write_cost(schema, None, request["PutRequest"]["Item"])
            costs[None] = costs.get(None, 0.0) + cost.table
            for name, units in cost.on(schema, local=False).items():
                costs[name] = costs.get(name, 0.0) + units
        return costs

    def write(batch: list[dict[str, Any]]) -> None:
        pending, stalled_since = batch, clock.now()
        while pending:
            costs = estimate(pending)
            if pacer is not None:
                pacer.wait_for(costs)
            sent, refusal = clock.now(), None
            try:
                answer = client.batch_write_item(
                    RequestItems={table: pending}, ReturnConsumedCapacity="INDEXES"
                )
                left = answer.get("UnprocessedItems", {}).get(table, [])
            except ClientError as problem:
                if not _throttled(problem):
                    raise
                answer, left, refusal = {}, pending, problem
            code = refusal and code_of(refusal)
            log.record(
                Call(sent, clock.now(), len(pending), len(pending) - len(left), code), refusal
            )
            if pacer is not None:
                used = _consumed(answer, table)
                if used is None:  # an engine that does not say: what the model says
                    used = estimate(pending[: len(pending) - len(left)]) if refusal is None else {}
                pacer.correct(costs, used)
                if left:
                    pacer.throttled()
                else:
                    pacer.clean()
            if len(left) < len(pending):
                stalled_since = clock.now()
            elif clock.now() - stalled_since > patience:
                raise LoadError(
                    f"{table} wrote nothing for {patience:g} s: {len(left)} items left unwritten"
                )
            pending = left

    source, taking, failed = _batches(items, batch_size), threading.Lock(), threading.Event()

    def worker() -> None:
        while not failed.is_set():
            with taking:
                batch = next(source, None)
            if batch is None:
                return
            try:
                write(batch)
            except BaseException:
                failed.set()  # the other workers stop taking batches
                raise

    with ThreadPoolExecutor(workers, thread_name_prefix=f"paced-{table}") as pool:
        for done in [pool.submit(worker) for _ in range(workers)]:
            done.result()
    return log


def _batches(items: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    return batches(({"PutRequest": {"Item": i}} for i in items), size)
