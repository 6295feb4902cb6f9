"""Per-second throughput metrics, read back the way CloudWatch hands them out.

The gateway records what DynamoDB publishes to CloudWatch (namespace AWS/DynamoDB) for each
table and each global secondary index: consumed and provisioned read and write capacity,
read and write throttle events, and throttled requests per operation. ``datapoints`` answers
in the shape of CloudWatch's GetMetricStatistics, so a spec reads the gateway's metrics and,
with ``--aws``, the service's (``CloudWatchMetrics``) through one interface.

Samples are kept per second of the gateway's clock (a scaled clock's seconds, when it runs
scaled): a sample is the sum of what happened in that second, and a provisioned-capacity
sample is the capacity in force during that second.
"""

from __future__ import annotations

import datetime
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from ddbspec import waiting
from ddbspec.capacity.model import Clock

CONSUMED = {"read": "ConsumedReadCapacityUnits", "write": "ConsumedWriteCapacityUnits"}
PROVISIONED = {"read": "ProvisionedReadCapacityUnits", "write": "ProvisionedWriteCapacityUnits"}
THROTTLE_EVENTS = {"read": "ReadThrottleEvents", "write": "WriteThrottleEvents"}
THROTTLED_REQUESTS = "ThrottledRequests"
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
UNITS = {
    THROTTLED_REQUESTS: "Count",
    **{m: "Count" for m in (*CONSUMED.values(), *PROVISIONED.values())},
    **{m: "Count" for m in THROTTLE_EVENTS.values()},
}

Resource = tuple[str, str | None]  # (table, global secondary index or None)


class MetricsSource(Protocol):
    """Anything that answers like CloudWatch's GetMetricStatistics for DynamoDB metrics."""

    def datapoints(
        self,
        metric: str,
        table: str,
        index: str | None = None,
        *,
        start: float,
        end: float,
        period: int = 60,
        statistics: Sequence[str] = ("Sum",),
        operations: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]: ...


class Metrics:
    """What the gateway saw, second by second, for each table and index. Thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        # (metric, table, index, operation) -> {second: value}
        self._counts: dict[tuple, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        # (table, index) -> [(clock time, read, write)], in time order
        self._provisioned: dict[Resource, list[tuple[float, float | None, float | None]]] = (
            defaultdict(list)
        )  # (read, write) None from a deletion on

    def add(
        self,
        metric: str,
        table: str,
        index: str | None,
        value: float,
        t: float | None = None,
        operation: str | None = None,
    ) -> None:
        second = math.floor(self.clock.now() if t is None else t)
        with self._lock:
            self._counts[(metric, table, index, operation)][second] += value

    def provision(self, table: str, index: str | None, read: float, write: float, t: float) -> None:
        """The capacity in force from clock time ``t`` (0 and 0 for an on-demand table)."""
        with self._lock:
            self._provisioned[(table, index)].append((t, read, write))

    def deleted(self, table: str, t: float) -> None:
        """A table deleted at clock time ``t`` has no capacity from then on (what it recorded
        stays, as in CloudWatch; a table created again under its name provisions anew)."""
        with self._lock:
            for key in [k for k in self._provisioned if k[0] == table]:
                self._provisioned[key].append((t, None, None))

    def names(self) -> list[tuple[str, str, str | None, str | None]]:
        """(metric, table, index, operation) of each series held (operation None for the
        provisioned capacity): what a publisher to CloudWatch goes through."""
        with self._lock:
            counted = list(self._counts)
            provisioned = [
                (metric, table, index, None)
                for table, index in self._provisioned
                for metric in PROVISIONED.values()
            ]
        return counted + provisioned

    def series(
        self,
        metric: str,
        table: str,
        index: str | None = None,
        *,
        start: float | None = None,
        end: float | None = None,
        operations: Sequence[str] | None = None,
    ) -> dict[int, float]:
        """{second: value} for the seconds that have a sample, in [start, end)."""
        lo = -math.inf if start is None else math.floor(start)
        hi = math.inf if end is None else end
        if metric in PROVISIONED.values():
            return self._provisioned_series(metric, table, index, start, end)
        with self._lock:
            picked: dict[int, float] = defaultdict(float)
            for (m, t, i, op), by_second in self._counts.items():
                if m != metric or t != table or i != index:
                    continue
                if operations is not None and op not in operations:
                    continue
                for second, value in by_second.items():
                    if lo <= second < hi:
                        picked[second] += value
        return dict(sorted(picked.items()))

    def _provisioned_series(
        self, metric: str, table: str, index: str | None, start: float | None, end: float | None
    ) -> dict[int, float]:
        column = 1 if metric == PROVISIONED["read"] else 2
        with self._lock:
            history = list(self._provisioned.get((table, index), ()))
        if not history:
            return {}
        first = math.floor(history[0][0] if start is None else max(start, history[0][0]))
        last = math.ceil(self.clock.now() if end is None else end)
        values, at = {}, 0
        for second in range(first, last):
            while at + 1 < len(history) and history[at + 1][0] <= second:
                at += 1
            value = history[at][column]
            if value is not None:
                values[second] = value
        return values

    def total(self, metric: str, table: str, index: str | None = None, **window: Any) -> float:
        return sum(self.series(metric, table, index, **window).values())

    def datapoints(
        self,
        metric: str,
        table: str,
        index: str | None = None,
        *,
        start: float,
        end: float,
        period: int = 60,
        statistics: Sequence[str] = ("Sum",),
        operations: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """GetMetricStatistics' ``Datapoints``: one per period that has samples, each with
        the requested statistics over its per-second samples, a ``Timestamp`` (the period's
        start, on the clock's calendar) and a ``Unit``. Sorted by time, unlike CloudWatch's."""
        samples = self.series(metric, table, index, start=start, end=end, operations=operations)
        return aggregate(samples, period, statistics, UNITS.get(metric, "None"), self.clock.epoch)


def aggregate(
    samples: dict[int, float],
    period: int,
    statistics: Sequence[str],
    unit: str,
    epoch: Any,
) -> list[dict[str, Any]]:
    """Per-second samples -> CloudWatch datapoints of ``period`` seconds."""
    unknown = set(statistics) - set(STATISTICS)
    if unknown:
        raise ValueError(f"unknown statistics {sorted(unknown)}; CloudWatch has {STATISTICS}")
    buckets: dict[int, list[float]] = defaultdict(list)
    for second, value in samples.items():
        buckets[second - second % period].append(value)
    points = []
    for begin in sorted(buckets):
        values = buckets[begin]
        stats = {
            "Sum": sum(values),
            "Average": sum(values) / len(values),
            "Minimum": min(values),
            "Maximum": max(values),
            "SampleCount": float(len(values)),
        }
        point: dict[str, Any] = {
            "Timestamp": _utc(epoch(begin)),
            "Unit": unit,
        }
        point.update({s: stats[s] for s in statistics})
        points.append(point)
    return points


class CloudWatchMetrics:
    """The same questions asked of CloudWatch, for a spec running on the real service.

    ``start`` and ``end`` are times on ``clock`` (the real one), as for ``Metrics``.
    ThrottledRequests is published per operation, so a question about several operations
    asks for each and adds their datapoints up.
    """

    def __init__(self, client: Any, clock: Clock) -> None:
        self.client, self.clock = client, clock

    def datapoints(
        self,
        metric: str,
        table: str,
        index: str | None = None,
        *,
        start: float,
        end: float,
        period: int = 60,
        statistics: Sequence[str] = ("Sum",),
        operations: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        dimensions = [{"Name": "TableName", "Value": table}]
        if index:
            dimensions.append({"Name": "GlobalSecondaryIndexName", "Value": index})
        per_operation: Iterable[str | None] = operations if operations else (None,)
        merged: dict[Any, dict[str, Any]] = {}
        for operation in per_operation:
            dims = dimensions + ([{"Name": "Operation", "Value": operation}] if operation else [])
            answer = self.client.get_metric_statistics(
                Namespace="AWS/DynamoDB",
                MetricName=metric,
                Dimensions=dims,
                StartTime=_utc(self.clock.epoch(start)),
                EndTime=_utc(self.clock.epoch(end)),
                Period=period,
                Statistics=list(statistics),
            )
            for point in answer["Datapoints"]:
                seen = merged.get(point["Timestamp"])
                if seen is None:
                    merged[point["Timestamp"]] = dict(point)
                elif "Sum" in point:
                    seen["Sum"] = seen.get("Sum", 0.0) + point["Sum"]
        return [merged[t] for t in sorted(merged)]

    def published(
        self,
        metric: str,
        table: str,
        *,
        start: float,
        end: float,
        period: int = 60,
        timeout: float = 900.0,
        poll: float = 30.0,
    ) -> bool:
        """CloudWatch publishes a minute's datapoints minutes late: wait until ``metric`` has a
        datapoint for the period that holds ``end`` (or ``timeout`` seconds of the service's
        clock). Its periods start at whole minutes of Unix time, not of the clock. A metric
        that had nothing to count (throttle events) has no datapoints at all: wait on one
        that has."""
        last = self.clock.epoch(end) // period * period

        def published() -> bool:
            points = self.datapoints(metric, table, start=start, end=end + period, period=period)
            return any(p["Timestamp"].timestamp() >= last for p in points)

        try:
            return waiting.until(f"{metric} of {table}", published, timeout, poll, clock=self.clock)
        except waiting.TimedOut:
            return False


def _utc(unix: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
