"""DynamoDB's capacity, and the metrics it publishes to CloudWatch, in moto's mocked account.

moto keeps what it is sent, throttles nothing and publishes no DynamoDB metrics, so exercise 1
could not run on the mocked ``--aws`` path. Under ``ddbspec.aws.mock`` each DynamoDB call goes
through the capacity gateway's accounting (``ddbspec.capacity.metering``), in-process: admission
against each table's and index's provisioned capacity and burst credit, ConsumedCapacity,
and the throttling errors as the service words them. It runs on the mock's service clock
(``aws.SERVICE_CLOCK``), which a spec may speed up as it does a gateway's.

Each minute that has ended is published into moto's CloudWatch as DynamoDB publishes it: one
datapoint a minute (the Sum, SampleCount, Minimum and Maximum of its seconds) for each table,
each global index and, for ThrottledRequests, each operation, stamped at the whole minute.
``as_cloudwatch_answers`` makes moto's GetMetricStatistics read them back as CloudWatch does.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ddbspec.capacity.accounting import OPERATIONS
from ddbspec.capacity.gateway import TARGET_PREFIX
from ddbspec.capacity.metering import Metering, Reply
from ddbspec.capacity.metrics import THROTTLED_REQUESTS, UNITS, Metrics
from ddbspec.capacity.model import ScaledClock

NAMESPACE = "AWS/DynamoDB"
MINUTE = 60
ACCOUNT = "123456789012"  # moto's default account, the one the mock's credentials map to
Send = Callable[[str, Any], Any]  # (botocore event name, request) -> moto's AWSResponse


class Call:
    """A boto3 client's DynamoDB request, as the metering sees an exchange with the engine
    (``metering.Exchange``): sent on to moto as it came, with another body, or as another
    operation of the metering's own (a DescribeTable, the old items of a write)."""

    def __init__(self, op: str, body: dict[str, Any], request: Any, send: Send) -> None:
        self.op, self.body, self.request, self._send = op, body, request, send

    def forward(self, body: Mapping[str, Any] | None = None) -> Reply:
        return self._answer(self.op, self.request if body is None else self._made(self.op, body))

    def call(self, op: str, payload: Mapping[str, Any]) -> Reply:
        return self._answer(op, self._made(op, payload))

    def _answer(self, op: str, request: Any) -> Reply:
        response = self._send(f"before-send.dynamodb.{op}", request)
        return Reply(response.status_code, response.content, list(response.headers.items()))

    def _made(self, op: str, body: Mapping[str, Any]) -> Any:
        from botocore.awsrequest import AWSPreparedRequest
        from botocore.compat import HTTPHeaders

        raw = json.dumps(body).encode()
        headers = HTTPHeaders()
        for name, value in self.request.headers.items():
            if name.lower() not in ("x-amz-target", "content-length"):
                headers[name] = value
        headers["X-Amz-Target"] = TARGET_PREFIX + op
        headers["Content-Length"] = str(len(raw))
        return AWSPreparedRequest(self.request.method, self.request.url, headers, raw, False)


class Capacity:
    """The mocked account's DynamoDB capacity on ``clock``, and its metrics in CloudWatch,
    region by region (a table is known by its name within its region)."""

    def __init__(self, clock: ScaledClock) -> None:
        self.clock = clock
        self.regions: dict[str, Metering] = {}
        self.published: dict[str, float] = {}  # region -> Unix time published up to

    def metering(self, region: str) -> Metering:
        if region not in self.regions:
            self.regions[region] = Metering(self.clock, Metrics(self.clock), region, OPERATIONS)
        return self.regions[region]

    def answer(self, event_name: str, request: Any, send: Send) -> Any:
        """moto's answer to a request, with DynamoDB's capacity applied; CloudWatch sees every
        minute that has ended first."""
        service, op = event_name.split(".")[1:3]
        if service == "cloudwatch":
            self.publish(region_of(request.url))
        if service != "dynamodb":
            return send(event_name, request)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return send(event_name, request)
        if not isinstance(body, dict):
            return send(event_name, request)
        reply = self.metering(region_of(request.url)).handle(Call(op, body, request, send))
        return response_of(request.url, reply)

    def publish(self, region: str) -> None:
        """Put each minute of ``region`` that has ended and is not yet published into moto's
        CloudWatch there."""
        from moto.cloudwatch.models import cloudwatch_backends

        if region not in self.regions:  # no DynamoDB call there yet: nothing to publish
            return
        until = self.clock.epoch(self.clock.now()) // MINUTE * MINUTE
        since = self.published.get(region, 0.0)
        data = []
        for metric, dimensions, samples in series(
            self.regions[region].metrics, since - self.clock.epoch(0)
        ):
            minutes: dict[float, list[float]] = defaultdict(list)
            for second, value in samples.items():
                minute = self.clock.epoch(second) // MINUTE * MINUTE
                if since <= minute < until:
                    minutes[minute].append(value)
            data += [datum(metric, dimensions, m, values) for m, values in minutes.items()]
        self.published[region] = until
        if data:
            cloudwatch_backends[ACCOUNT][region].put_metric_data(NAMESPACE, data)


def series(
    metrics: Metrics, start: float
) -> Iterator[tuple[str, list[dict[str, str]], dict[int, float]]]:
    """Each metric DynamoDB publishes, its dimensions and its per-second samples from clock
    time ``start`` on: per table and per global index, ThrottledRequests per operation."""
    seen = set()
    for metric, table, index, operation in metrics.names():
        dimensions = [{"Name": "TableName", "Value": table}]
        if metric == THROTTLED_REQUESTS:
            dimensions.append({"Name": "Operation", "Value": str(operation)})
            yield (
                metric,
                dimensions,
                metrics.series(metric, table, start=start, operations=[str(operation)]),
            )
            continue
        if (metric, table, index) in seen:  # counted per operation, published as one
            continue
        seen.add((metric, table, index))
        if index is not None:
            dimensions.append({"Name": "GlobalSecondaryIndexName", "Value": index})
        yield metric, dimensions, metrics.series(metric, table, index, start=start)


def datum(
    metric: str, dimensions: list[dict[str, str]], minute: float, values: list[float]
) -> dict[str, Any]:
    """One minute's datapoint, as PutMetricData takes it: its seconds' statistics."""
    return {
        "MetricName": metric,
        "Dimensions": dimensions,
        # naive UTC, as moto keeps the times it parses from a request
        "Timestamp": datetime.datetime.fromtimestamp(minute, datetime.timezone.utc).replace(
            tzinfo=None
        ),
        "Unit": UNITS.get(metric, "None"),
        "StatisticValues": {
            "SampleCount": float(len(values)),
            "Sum": float(sum(values)),
            "Minimum": float(min(values)),
            "Maximum": float(max(values)),
        },
    }


def region_of(url: str) -> str:
    """'eu-west-1' for https://monitoring.eu-west-1.amazonaws.com/."""
    found = re.match(r"https?://[\w-]+\.([a-z]{2}(?:-[a-z]+)+-\d)\.", url)
    return found.group(1) if found else "us-east-1"


def response_of(url: str, reply: Reply) -> Any:
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    return AWSResponse(url, reply.status, dict(reply.headers), MockRawResponse(reply.body))


@contextlib.contextmanager
def as_cloudwatch_answers() -> Iterator[None]:
    """moto's GetMetricStatistics, made to answer as CloudWatch does.

    CloudWatch treats each combination of dimensions as a metric of its own: a query gets the
    datapoints published with exactly its dimensions (moto's, with at least them, so a table's
    query would count its indexes' writes too). And it rounds a recent StartTime down to the
    whole minute, so the minute a window starts in is in the answer (moto's leaves it out).
    """
    from moto.cloudwatch.models import CloudWatchBackend

    statistics = CloudWatchBackend.get_metric_statistics

    def exactly(
        self: CloudWatchBackend,
        namespace: str,
        metric_name: str,
        start_time: Any,
        end_time: Any,
        period: int,
        stats: list[str],
        dimensions: list[dict[str, str]],
        unit: str | None = None,
    ) -> Any:
        named = {(d["Name"], d["Value"]) for d in dimensions}
        everything = self.get_all_metrics
        self.get_all_metrics = lambda: [  # type: ignore[method-assign]
            m for m in everything() if {(d.name, d.value) for d in m.dimensions} == named
        ]
        try:
            start = start_time.replace(second=0, microsecond=0)
            return statistics(
                self, namespace, metric_name, start, end_time, period, stats, dimensions, unit
            )
        finally:
            del self.get_all_metrics

    CloudWatchBackend.get_metric_statistics = exactly  # type: ignore[method-assign]
    try:
        yield
    finally:
        CloudWatchBackend.get_metric_statistics = statistics  # type: ignore[method-assign]
