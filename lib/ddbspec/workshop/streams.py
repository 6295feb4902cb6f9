"""A local event source mapping: what Lambda does between a DynamoDB stream and a function.

Lambda's mapping finds the table's stream, follows its shards (a child shard only after its
parent has been read to the end, so that the records of one item stay in order), reads each
shard with GetRecords in batches, turns every batch into the event the function receives,
invokes the function, and moves its checkpoint past the batch only once the function has
succeeded. A failed batch is retried, and split in two if it keeps failing, so that one bad
record cannot hide the good ones around it; the checkpoint never passes a record that was
not applied.

``Runner`` does the same in a background thread, for engines on which no Lambda can run (and
moto's own mapping drains the stream without running the function). Its ``Checkpoint`` is a
plain object: keep it, and a new runner resumes where the old one stopped.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from ddbspec.errors import DdbSpecError, code_of
from ddbspec.workshop import tables

log = logging.getLogger(__name__)

StartingPosition = Literal["TRIM_HORIZON", "LATEST"]
Handler = Callable[[dict[str, Any], Any], Any]
BATCH_SIZE = 100  # the workshop's --batch-size
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's limit on a synchronous invocation's payload
WITH_NEW_IMAGE = ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")


class StreamError(DdbSpecError):
    """The stream cannot be read as asked; the message says what to do."""


class BatchFailed(StreamError):
    """A batch (after retries and bisection: one record) kept failing; the runner stopped
    with its checkpoint just before it."""

    def __init__(
        self, shard: str, records: Sequence[Mapping[str, Any]], attempts: int, cause: BaseException
    ) -> None:
        self.shard = shard
        self.first = records[0]["dynamodb"]["SequenceNumber"]
        self.last = records[-1]["dynamodb"]["SequenceNumber"]
        self.event_ids = [r.get("eventID") for r in records]
        self.cause = cause
        span = (
            f"record {self.event_ids[0]} (sequence number {self.first})"
            if len(records) == 1
            else f"{len(records)} records (sequence numbers {self.first}..{self.last})"
        )
        super().__init__(
            f"shard {shard}: {span} failed {attempts} times, the last with "
            f"{type(cause).__name__}: {cause}. Nothing was checkpointed past it."
        )


class RecordTooLarge(StreamError):
    """One record makes an event larger than a function may receive."""


# --- Finding the stream -----------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    table: str
    arn: str
    view_type: str

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]


def how_to_enable(table: str, view_type: str = "NEW_IMAGE") -> str:
    return (
        f"aws dynamodb update-table --table-name {table} "
        f"--stream-specification StreamEnabled=true,StreamViewType={view_type}"
    )


def stream_of(description: Mapping[str, Any], need_new_image: bool = True) -> Stream:
    """The enabled stream of a table (its DescribeTable ``Table``), or a clear error."""
    name = description.get("TableName", "?")
    spec = description.get("StreamSpecification") or {}
    arn = description.get("LatestStreamArn")
    if not arn or not spec.get("StreamEnabled"):
        raise StreamError(
            f"table {name} has no enabled stream, so there is nothing to replicate from. "
            f"Enable one with UpdateTable, as the workshop does: {how_to_enable(name)}"
        )
    view = spec.get("StreamViewType", "?")
    if need_new_image and view not in WITH_NEW_IMAGE:
        raise StreamError(
            f"the stream of table {name} is {view}: its records carry no NewImage, so a "
            f"replica cannot be written from them. A stream's view type cannot be changed: "
            f"disable the stream (StreamEnabled=false) and enable it again as "
            f"{' or '.join(WITH_NEW_IMAGE)}"
        )
    return Stream(name, arn, view)


def find_stream(ddb: Any, table: str, need_new_image: bool = True) -> Stream:
    """The enabled stream of ``table`` (LatestStreamArn), or a clear error."""
    return stream_of(ddb.describe_table(TableName=table)["Table"], need_new_image)


def enable_stream(
    ddb: Any, table: str, waits: tables.Waits, view_type: str = "NEW_IMAGE"
) -> Stream:
    """Turn the stream on with UpdateTable, as the workshop's step 5 does, and wait for it."""
    ddb.update_table(
        TableName=table,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
    )
    return stream_of(tables.wait_active(ddb, table, waits), need_new_image=False)


# --- Shards -----------------------------------------------------------------------------------


def list_shards(streams: Any, arn: str) -> list[dict[str, Any]]:
    """Every shard of the stream (DescribeStream, followed page by page)."""
    shards: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StreamArn": arn}
    while True:
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        shards += description.get("Shards", [])
        last = description.get("LastEvaluatedShardId")
        if not last:
            return shards
        kwargs["ExclusiveStartShardId"] = last


def _start(shard: Mapping[str, Any]) -> int:
    return int(shard.get("SequenceNumberRange", {}).get("StartingSequenceNumber", 0))


def shard_order(shards: Sequence[Mapping[str, Any]]) -> list[str]:
    """Shard ids with every parent before its children.

    A shard whose parent is not listed (trimmed after 24 hours) is a root. Roots, and the
    children of one parent, go in the order of their first sequence number.
    """
    by_id = {s["ShardId"]: s for s in shards}
    children: dict[str | None, list[str]] = {}
    for s in shards:
        parent = s.get("ParentShardId")
        children.setdefault(parent if parent in by_id else None, []).append(s["ShardId"])
    ordered: list[str] = []
    pending = sorted(children.get(None, []), key=lambda i: _start(by_id[i]), reverse=True)
    while pending:  # depth first, so a lineage is read through before the next root
        shard = pending.pop()
        ordered.append(shard)
        pending += sorted(children.get(shard, []), key=lambda i: _start(by_id[i]), reverse=True)
    return ordered


def ready_shards(shards: Sequence[Mapping[str, Any]], finished: set[str]) -> list[str]:
    """The shards that may be read now: not finished, and their parent (if listed) finished."""
    listed = {s["ShardId"]: s for s in shards}
    ready = []
    for shard in shard_order(shards):
        parent = listed[shard].get("ParentShardId")
        if shard not in finished and (parent not in listed or parent in finished):
            ready.append(shard)
    return ready


# --- Checkpoints ------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """How far a consumer has applied a stream: per shard, the last sequence number applied,
    and the shards read to their end. A plain value: copy it, store it as JSON, resume from it.
    """

    stream_arn: str | None = None
    positions: dict[str, str] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)

    def advance(self, shard: str, sequence_number: str) -> None:
        """Move past ``sequence_number``; a checkpoint never moves backwards."""
        current = self.positions.get(shard)
        if current is not None and int(sequence_number) <= int(current):
            raise ValueError(
                f"shard {shard}: checkpoint {current} would move back to {sequence_number}"
            )
        self.positions[shard] = sequence_number

    def finish(self, shard: str) -> None:
        self.finished.add(shard)

    def iterator_request(
        self, shard: str, start: StartingPosition, latest_allowed: bool
    ) -> dict[str, str]:
        """GetShardIterator arguments that resume ``shard`` exactly after the checkpoint.

        Without a position: TRIM_HORIZON, or LATEST for a shard that was open when a LATEST
        mapping started (a shard found later is read from its start, as Lambda does).
        """
        position = self.positions.get(shard)
        if position is not None:
            return {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position}
        if start == "LATEST" and latest_allowed:
            return {"ShardIteratorType": "LATEST"}
        return {"ShardIteratorType": "TRIM_HORIZON"}

    def applied(self, shard: str, sequence_number: str) -> bool:
        """Whether the record at ``sequence_number`` in ``shard`` has been applied."""
        if shard in self.finished:
            return True
        position = self.positions.get(shard)
        return position is not None and int(sequence_number) <= int(position)

    def copy(self) -> Checkpoint:
        return Checkpoint(self.stream_arn, dict(self.positions), set(self.finished))

    def to_json(self) -> str:
        return json.dumps(
            {
                "stream_arn": self.stream_arn,
                "positions": self.positions,
                "finished": sorted(self.finished),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        raw = json.loads(text)
        return cls(raw["stream_arn"], dict(raw["positions"]), set(raw["finished"]))


# --- The event --------------------------------------------------------------------------------


def to_event_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """One attribute value as a JSON event carries it: binary as base64 text, the rest as is."""
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": base64.b64encode(inner).decode()}
    if tag == "BS":
        return {"BS": [base64.b64encode(v).decode() for v in inner]}
    if tag == "M":
        return {"M": {k: to_event_value(v) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [to_event_value(v) for v in inner]}
    return {tag: inner}


def _epoch(value: Any) -> Any:
    """ApproximateCreationDateTime as Lambda passes it: UNIX seconds (the API rounds down)."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    return value


def event_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it to the function.

    Lambda adds eventSourceARN (the stream) and passes the rest through, with the images as
    JSON: numbers as their decimal text, binary as base64, the creation time in seconds.
    """
    ddb = record["dynamodb"]
    dynamodb: dict[str, Any] = {}
    if "ApproximateCreationDateTime" in ddb:
        dynamodb["ApproximateCreationDateTime"] = _epoch(ddb["ApproximateCreationDateTime"])
    for image in ("Keys", "NewImage", "OldImage"):
        if image in ddb:
            dynamodb[image] = {k: to_event_value(v) for k, v in ddb[image].items()}
    for name in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        if name in ddb:
            dynamodb[name] = ddb[name]
    event = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": record.get("eventSource", "aws:dynamodb"),
        "awsRegion": record.get("awsRegion") or stream_arn.split(":")[3],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:  # TTL deletions say who deleted
        event["userIdentity"] = record["userIdentity"]
    return event


def event_size(records: Sequence[Mapping[str, Any]]) -> int:
    """The event's size as Lambda counts it: its JSON payload in bytes."""
    return len(json.dumps({"Records": list(records)}, separators=(",", ":")).encode())


@dataclass(frozen=True)
class InvocationContext:
    """The parts of Lambda's context object a handler may look at."""

    function_name: str
    aws_request_id: str
    deadline: float  # time.monotonic()

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


# --- The runner -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """How a failed batch is retried: ``attempts`` times, then (``bisect``) split in two and
    each half retried the same way, down to a single record, which then stops the runner."""

    attempts: int = 3
    bisect: bool = True
    backoff: float = 0.05  # doubles per attempt
    max_backoff: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))


@dataclass
class Stats:
    """What the runner did: batches, records and invocations, and the faults it handled."""

    invocations: int = 0
    failed_invocations: int = 0
    batches: int = 0  # successful invocations: checkpointed batches
    records: int = 0  # records checkpointed
    bisections: int = 0
    renewed_iterators: int = 0
    polls: int = 0


class _Stopped(Exception):
    """Stop was asked for while a batch was failing: leave it for the next runner."""


class Runner:
    """Reads a stream and invokes ``handler`` with Lambda's events, in a background thread.

    ``start``/``stop`` (or ``with runner.running():``) run it; ``wait_for(sequence_number)``
    and ``wait_idle()`` wait for it; ``checkpoint`` is how far it got. ``poll()`` does one
    round by hand (the thread calls it in a loop), which is what the unit tests drive.
    """

    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        handler: Handler,
        *,
        start: StartingPosition = "TRIM_HORIZON",
        batch_size: int = BATCH_SIZE,
        checkpoint: Checkpoint | None = None,
        retry: Retry | None = None,
        poll_interval: float = 0.25,
        refresh_interval: float = 10.0,
        max_event_bytes: int = MAX_EVENT_BYTES,
        function_name: str = "replica",
        timeout: float = 60.0,
    ) -> None:
        if start not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(f"start is {start!r}: TRIM_HORIZON or LATEST")
        if not 1 <= batch_size <= 1000:
            raise ValueError(f"batch_size {batch_size}: GetRecords takes 1 to 1000")
        checkpoint = checkpoint.copy() if checkpoint else Checkpoint(stream_arn)
        if checkpoint.stream_arn not in (None, stream_arn):
            raise StreamError(
                f"the checkpoint is for stream {checkpoint.stream_arn}, not {stream_arn}: a "
                "stream enabled again is a new stream, and positions in one mean nothing in "
                "the other; start from TRIM_HORIZON with an empty replica"
            )
        checkpoint.stream_arn = stream_arn
        self.streams, self.stream_arn, self.handler = streams, stream_arn, handler
        self.start_position: StartingPosition = start
        self.batch_size, self.retry = batch_size, retry or Retry()
        self.poll_interval, self.refresh_interval = poll_interval, refresh_interval
        self.max_event_bytes, self.function_name, self.timeout = (
            max_event_bytes,
            function_name,
            timeout,
        )
        self.stats = Stats()
        self.error: BaseException | None = None
        self._checkpoint = checkpoint
        self._shards: list[dict[str, Any]] = []
        self._latest_allowed: set[str] | None = None  # shards open when a LATEST start began
        self._iterators: dict[str, str] = {}
        self._refreshed = -float("inf")
        self._high_water = -1
        self._rounds = 0
        self._last_busy_round = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what callers see --

    @property
    def checkpoint(self) -> Checkpoint:
        with self._changed:
            return self._checkpoint.copy()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Runner:
        if self._thread is not None:
            raise RuntimeError("a runner starts once; make a new one from its checkpoint")
        self._thread = threading.Thread(
            target=self._loop, name=f"stream-runner-{self.function_name}", daemon=True
        )
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the runner to stop after the batch in hand (safe from inside the handler)."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    def stop(self, timeout: float = 30.0) -> Checkpoint:
        """Stop and wait for the thread; returns the checkpoint to resume from."""
        self.request_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise StreamError(
                    f"the runner did not stop within {timeout:g} s: its handler is still "
                    "running (a Lambda function would be timed out)"
                )
        return self.checkpoint

    @contextlib.contextmanager
    def running(self) -> Iterator[Runner]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def wait_for(self, target: str | int | Checkpoint, timeout: float = 60.0) -> None:
        """Wait until the runner has applied ``target``: a sequence number (a record at or
        after it, in any shard), or a checkpoint such as ``StreamEnd.now()`` (every record up
        to each of its positions)."""
        deadline = time.monotonic() + timeout
        what = (
            f"sequence number {target}"
            if not isinstance(target, Checkpoint)
            else (f"the positions {target.positions}")
        )
        with self._changed:
            while not self._reached(target):
                self._raise_if_done(f"reaching {what}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"the runner applied records up to {self._high_water_text()} in "
                        f"{timeout:g} s, not yet {what} ({self._progress()})"
                    )
                self._changed.wait(min(left, 0.5))
            if self.error is not None:
                raise self.error

    def _reached(self, target: str | int | Checkpoint) -> bool:
        if isinstance(target, Checkpoint):
            return all(self._checkpoint.applied(s, p) for s, p in target.positions.items())
        return self._high_water >= int(target)

    def wait_idle(self, timeout: float = 60.0, rounds: int = 2) -> None:
        """Wait until ``rounds`` consecutive polls of every readable shard found nothing."""
        deadline = time.monotonic() + timeout
        with self._changed:
            since = self._rounds
            while not (
                self._rounds - max(self._last_busy_round, since) >= rounds and self._rounds > since
            ):
                self._raise_if_done("going idle")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"the runner was still busy after {timeout:g} s ({self._progress()})"
                    )
                self._changed.wait(min(left, 0.5))

    # -- the work --

    def poll(self) -> int:
        """One round: every shard that may be read now gets one GetRecords, and its records
        are delivered. Returns how many records were applied."""
        now = time.monotonic()
        if now - self._refreshed >= self.refresh_interval:
            self._refresh()
        applied = 0
        for shard in ready_shards(self._shards, self._checkpoint.finished):
            if self._stop.is_set():
                break
            records, next_iterator = self._get_records(shard)
            if records:
                built = [event_record(r, self.stream_arn) for r in records]
                self._deliver(shard, built)
                applied += len(built)
            if next_iterator is None:  # a closed shard, read to its end: its children may go
                with self._changed:
                    self._checkpoint.finish(shard)
                self._iterators.pop(shard, None)
                self._refreshed = -float("inf")
            else:
                self._iterators[shard] = next_iterator
        with self._changed:
            self.stats.polls += 1
            self._rounds += 1
            if applied:
                self._last_busy_round = self._rounds
            self._changed.notify_all()
        return applied

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.poll():
                    self._stop.wait(self.poll_interval)
        except _Stopped:
            pass
        except BaseException as error:  # kept for wait_*; the thread must not die silently
            log.error("stream runner for %s stopped: %s", self.stream_arn, error)
            self.error = error
        finally:
            with self._changed:
                self._changed.notify_all()

    def _refresh(self) -> None:
        self._shards = list_shards(self.streams, self.stream_arn)
        self._refreshed = time.monotonic()
        if self._latest_allowed is None:
            open_now = {
                s["ShardId"]
                for s in self._shards
                if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})
            }
            self._latest_allowed = open_now
            if self.start_position == "LATEST":  # what was closed before the start is past
                for s in self._shards:
                    sid = s["ShardId"]
                    if sid not in open_now and sid not in self._checkpoint.positions:
                        self._checkpoint.finish(sid)

    def _new_iterator(self, shard: str) -> str:
        with self._changed:
            request = self._checkpoint.iterator_request(
                shard, self.start_position, shard in (self._latest_allowed or set())
            )
        response = self.streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard, **request
        )
        return response["ShardIterator"]

    def _get_records(self, shard: str) -> tuple[list[dict[str, Any]], str | None]:
        iterator = self._iterators.get(shard) or self._new_iterator(shard)
        try:
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
        except ClientError as error:
            code = code_of(error)
            if code == "ExpiredIteratorException":
                # iterators live 15 minutes; a new one from the checkpoint loses nothing
                log.info("shard %s: iterator expired, renewed from the checkpoint", shard)
                with self._changed:
                    self.stats.renewed_iterators += 1
                response = self.streams.get_records(
                    ShardIterator=self._new_iterator(shard), Limit=self.batch_size
                )
            elif code == "TrimmedDataAccessException":
                raise StreamError(
                    f"shard {shard}: the records after the checkpoint are older than the "
                    "stream keeps (24 hours) and are gone; the replica cannot be completed "
                    "from this stream: copy the table again and start from LATEST"
                ) from None
            else:
                raise
        return response.get("Records", []), response.get("NextShardIterator")

    def _deliver(self, shard: str, records: list[dict[str, Any]]) -> None:
        """Invoke the handler until the batch is applied, checkpointing after each success.

        A batch too large for one event, or one that keeps failing (``retry.bisect``), is
        split in half and each half delivered the same way, down to one record.
        """
        if event_size(records) > self.max_event_bytes:
            if len(records) == 1:
                raise self._too_large(shard, records[0])
            self._halves(shard, records)  # as Lambda: a payload too large is split, not dropped
            return
        last = self._with_retries(shard, records)
        if last is None:
            return
        if self._stop.is_set():
            raise _Stopped
        if not (self.retry.bisect and len(records) > 1):
            raise BatchFailed(shard, records, self.retry.attempts, last) from last
        with self._changed:
            self.stats.bisections += 1
        self._halves(shard, records)

    def _halves(self, shard: str, records: list[dict[str, Any]]) -> None:
        """Deliver the first half of the batch, then the second: the one place it is split."""
        half = len(records) // 2
        self._deliver(shard, records[:half])
        self._deliver(shard, records[half:])

    def _with_retries(self, shard: str, records: list[dict[str, Any]]) -> BaseException | None:
        """Invoke up to ``retry.attempts`` times; None once applied, else the last failure."""
        last: BaseException | None = None
        for attempt in range(1, self.retry.attempts + 1):
            if attempt > 1 and self._stop.wait(self.retry.delay(attempt - 1)):
                raise _Stopped
            try:
                self._invoke(records)
            except Exception as error:  # any failure of the function fails the batch
                last = error
                self._failed(shard, records, attempt, error)
                continue
            self._checkpointed(shard, records)
            return None
        return last

    def _failed(
        self, shard: str, records: list[dict[str, Any]], attempt: int, error: Exception
    ) -> None:
        with self._changed:
            self.stats.failed_invocations += 1
        log.warning(
            "shard %s: batch of %d records (from %s) failed, attempt %d: %s",
            shard,
            len(records),
            records[0]["dynamodb"]["SequenceNumber"],
            attempt,
            error,
        )

    def _too_large(self, shard: str, record: dict[str, Any]) -> RecordTooLarge:
        return RecordTooLarge(
            f"shard {shard}: record {record['eventID']} (sequence number "
            f"{record['dynamodb']['SequenceNumber']}) makes an event of "
            f"{event_size([record])} bytes, over the {self.max_event_bytes} a function "
            "may receive; it was not delivered and nothing was checkpointed past it"
        )

    def _invoke(self, records: list[dict[str, Any]]) -> None:
        context = InvocationContext(
            self.function_name, str(uuid.uuid4()), time.monotonic() + self.timeout
        )
        with self._changed:
            self.stats.invocations += 1
        self.handler({"Records": records}, context)

    def _checkpointed(self, shard: str, records: list[dict[str, Any]]) -> None:
        last = records[-1]["dynamodb"]["SequenceNumber"]
        with self._changed:
            self._checkpoint.advance(shard, last)
            self.stats.batches += 1
            self.stats.records += len(records)
            self._high_water = max(self._high_water, int(last))
            self._changed.notify_all()

    def _raise_if_done(self, what: str) -> None:
        if self.error is not None:
            raise self.error
        if self._thread is not None and not self._thread.is_alive():
            raise StreamError(f"the runner stopped before {what} ({self._progress()})")

    def _high_water_text(self) -> str:
        return "nothing yet" if self._high_water < 0 else str(self._high_water)

    def _progress(self) -> str:
        s = self.stats
        return (
            f"{s.records} records in {s.batches} batches, {s.failed_invocations} failed "
            f"invocations, {s.renewed_iterators} renewed iterators"
        )


class StreamEnd:
    """Where a stream ends now, as a checkpoint of each shard's last record.

    Each look reads only what was written since the previous one, so a test can ask after
    every write and then wait for a runner to reach exactly that (``Runner.wait_for``).
    """

    def __init__(self, streams: Any, arn: str) -> None:
        self.streams, self.arn = streams, arn
        self._end = Checkpoint(arn)

    def now(self) -> Checkpoint:
        for shard in shard_order(list_shards(self.streams, self.arn)):
            if shard in self._end.finished:
                continue
            request = self._end.iterator_request(shard, "TRIM_HORIZON", latest_allowed=False)
            iterator: str | None = self.streams.get_shard_iterator(
                StreamArn=self.arn, ShardId=shard, **request
            )["ShardIterator"]
            while iterator:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records = response.get("Records", [])
                if records:
                    self._end.advance(shard, records[-1]["dynamodb"]["SequenceNumber"])
                iterator = response.get("NextShardIterator")
                if iterator is None:
                    self._end.finish(shard)  # closed, and read to its end
                elif not records:
                    break  # the open end of the shard
        return self._end.copy()

    @property
    def last(self) -> str | None:
        """The highest sequence number seen so far (None for an empty stream)."""
        positions = self._end.positions.values()
        return max(positions, key=int) if positions else None
