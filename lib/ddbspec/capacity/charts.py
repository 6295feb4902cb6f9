"""Charts of a table's write capacity and throttling, drawn like the DynamoDB console's.

The workshop's figures 11 to 15 are the console's metric graphs: write capacity in units per
second, provisioned (red) against consumed (blue), and throttled writes as counts, for the
table and for its global secondary index. ``write_capacity`` draws the same four graphs,
from any ``MetricsSource`` (the gateway's metrics or CloudWatch), to one PNG.

Needs matplotlib (drawn off-screen, with the Agg backend); imported only when drawing.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from ddbspec.capacity.metrics import (
    CONSUMED,
    PROVISIONED,
    THROTTLE_EVENTS,
    THROTTLED_REQUESTS,
    WRITE_OPERATIONS,
    MetricsSource,
)
from ddbspec.capacity.model import Clock

CONSUMED_COLOUR = "#1f77b4"  # the console's blue
PROVISIONED_COLOUR = "#d62728"  # and its red


def write_capacity(
    source: MetricsSource,
    clock: Clock,
    table: str,
    index: str | None,
    *,
    start: float,
    end: float,
    period: int,
    path: Path,
    title: str,
) -> Path:
    """Four graphs in one PNG: write capacity and throttled writes, for the table (left) and
    its index (right), from clock time ``start`` to ``end``, one point per ``period`` (a
    minute in CloudWatch). The table's throttles are shown twice over: requests refused
    (ThrottledRequests, whichever meter refused them) and events on its own capacity
    (WriteThrottleEvents); a table throttled by its index has the first and not the second.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    window: dict[str, Any] = {"start": start, "end": end, "period": period}
    span = [_utc(clock.epoch(start)), _utc(clock.epoch(end))]
    columns = [("table", None), (f"index {index}", index)] if index else [("table", None)]
    figure, axes = plt.subplots(2, len(columns), figsize=(6 * len(columns), 6), squeeze=False)
    for column, (name, gsi) in enumerate(columns):
        capacity, throttles = axes[0][column], axes[1][column]
        provisioned = source.datapoints(
            PROVISIONED["write"], table, gsi, statistics=("Average",), **window
        )
        consumed = source.datapoints(CONSUMED["write"], table, gsi, **window)
        _line(capacity, span, provisioned, "Average", period, "Provisioned", PROVISIONED_COLOUR)
        _line(capacity, span, consumed, "Sum", period, "Consumed", CONSUMED_COLOUR)
        capacity.set_title(f"{name}: write capacity (units/second)", fontsize=10)
        events = source.datapoints(THROTTLE_EVENTS["write"], table, gsi, **window)
        if gsi is None:
            requests = source.datapoints(
                THROTTLED_REQUESTS, table, None, operations=WRITE_OPERATIONS, **window
            )
            _line(
                throttles,
                span,
                requests,
                "Sum",
                period,
                "Throttled requests",
                PROVISIONED_COLOUR,
                per_second=False,
            )
        _line(
            throttles,
            span,
            events,
            "Sum",
            period,
            "Throttle events",
            CONSUMED_COLOUR,
            per_second=False,
        )
        throttles.set_title(f"{name}: throttled writes (count per {period} s)", fontsize=10)
        for ax in (capacity, throttles):
            locator = mdates.AutoDateLocator(minticks=4, maxticks=8)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.set_xlim(*span)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            ax.legend(loc="upper left", fontsize=8)
    figure.suptitle(title, fontsize=11)
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.88, hspace=0.4, wspace=0.18)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _line(
    ax: Any,
    span: list[datetime.datetime],
    points: list[dict[str, Any]],
    stat: str,
    period: int,
    label: str,
    colour: str,
    per_second: bool = True,
) -> None:
    """One series (a sum shown per second, or per period as a count). Where there are no
    datapoints nothing happened: a sum is drawn at zero there, as the console draws it,
    rather than as a line straight across."""
    per = period if stat == "Sum" and per_second else 1
    step = datetime.timedelta(seconds=period)
    times: list[datetime.datetime] = []
    values: list[float] = []
    for point in points:
        t = point["Timestamp"]
        if stat == "Sum" and t - (times[-1] if times else span[0]) > 1.5 * step:
            times += [times[-1] + step if times else span[0], t - step]
            values += [0.0, 0.0]
        times.append(t)
        values.append(point[stat] / per)
    if stat == "Sum" and span[1] - (times[-1] if times else span[0]) > 1.5 * step:
        times += [times[-1] + step if times else span[0], span[1]]
        values += [0.0, 0.0]
    ax.plot(times, values, label=label, color=colour, linewidth=1.5, marker=".", markersize=3)


def _utc(unix: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
