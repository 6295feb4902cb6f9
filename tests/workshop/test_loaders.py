"""loaders: wire format, batches of 25, backoff with jitter, retries (against a stub client)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from ddbspec.errors import LoadError
from ddbspec.workshop import loaders
from ddbspec.workshop.loaders import backoff_delay, batches, put_requests


def test_items_become_put_requests_in_wire_format() -> None:
    item = {"employeeid": 7, "colA": "master", "lock": "0", "ratio": Decimal("0.5")}
    assert list(put_requests([item])) == [
        {
            "PutRequest": {
                "Item": {
                    "employeeid": {"N": "7"},
                    "colA": {"S": "master"},
                    "lock": {"S": "0"},
                    "ratio": {"N": "0.5"},
                }
            }
        }
    ]


def test_batches_are_25_with_the_remainder_last() -> None:
    sizes = [len(b) for b in batches(range(1001))]
    assert sizes == [25] * 40 + [1]
    assert [x for b in batches(range(1001)) for x in b] == list(range(1001))
    assert list(batches([])) == []


def test_batches_are_lazy() -> None:
    def endless():
        n = 0
        while True:
            yield n
            n += 1

    first = next(batches(endless(), size=3))
    assert first == [0, 1, 2]


def test_backoff_doubles_up_to_a_cap_and_is_jittered() -> None:
    top = [backoff_delay(a, base=0.05, cap=5.0, rand=lambda: 1.0) for a in range(10)]
    assert top[:4] == [0.05, 0.1, 0.2, 0.4]
    assert max(top) == 5.0
    assert backoff_delay(3, rand=lambda: 0.0) == 0.0
    assert 0 <= backoff_delay(3) <= 0.4


class StubClient:
    """BatchWriteItem that refuses each item the first time it sees it (a throttled table),
    and the items in `poison` every time (a table that never catches up)."""

    def __init__(self, poison: frozenset[int] = frozenset(), extra_items: int = 0) -> None:
        self.poison, self.extra_items = poison, extra_items
        self.calls = 0
        self.seen: set[int] = set()
        self.stored: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        refused = []
        with self.lock:
            self.calls += 1
            for r in requests:
                eid = int(r["PutRequest"]["Item"]["employeeid"]["N"])
                if eid in self.poison or eid not in self.seen:
                    refused.append(r)
                else:
                    self.stored.append(r)
                self.seen.add(eid)
        return {"UnprocessedItems": {table: refused} if refused else {}}

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["Select"] == "COUNT"
        return {"Count": len(self.stored) + self.extra_items, "ScannedCount": len(self.stored)}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "backoff_delay", lambda attempt: 0.0)


def items(n: int) -> list[dict[str, Any]]:
    return [{"employeeid": i, "colA": "master"} for i in range(n)]


def test_unprocessed_items_are_retried_until_written() -> None:
    client = StubClient()
    assert loaders.load(client, "t", items(1000), workers=4) == 1000
    assert len(client.stored) == 1000
    assert client.calls == 2 * 40


def test_items_never_written_stop_the_load_with_a_count() -> None:
    client = StubClient(poison=frozenset({0, 1, 2}))
    with pytest.raises(LoadError, match=r"^3 items were not written to t after 10 attempts") as e:
        loaders.load(client, "t", items(1000), workers=1)
    # it stopped at the first failed batch: its 22 good items, and nothing after it
    assert "stopped after writing 22" in str(e.value)
    # one call refused the batch (all unseen), one wrote its 22 good items, then 10 wrote none
    assert client.calls == 2 + loaders.MAX_ATTEMPTS


def test_a_table_that_writes_a_little_of_each_batch_is_loaded_at_its_pace() -> None:
    class OneAtATime:
        """A throttled table: one item of each request written, the rest handed back."""

        def __init__(self) -> None:
            self.written, self.calls = 0, 0

        def batch_write_item(self, RequestItems: dict[str, list]) -> dict[str, Any]:
            self.calls += 1
            (table, requests), *_ = RequestItems.items()
            self.written += 1
            return {"UnprocessedItems": {table: requests[1:]} if requests[1:] else {}}

    client = OneAtATime()
    assert loaders.load(client, "t", items(50), workers=1) == 50
    assert client.calls == 50 > loaders.MAX_ATTEMPTS  # progress on every call: no give-up


def test_a_table_holding_other_than_what_was_loaded_is_an_error() -> None:
    assert loaders.load_verified(StubClient(), "t", items(60)) == 60
    with pytest.raises(LoadError, match=r"^loaded 60 items into t but the table holds 61$"):
        loaders.load_verified(StubClient(extra_items=1), "t", items(60))


def test_serialized_items_are_sent_as_they_are() -> None:
    client = StubClient()
    wire = [{"employeeid": {"N": str(i)}, "colA": {"S": "master"}} for i in range(30)]
    assert loaders.load(client, "t", wire, workers=3, serialized=True) == 30
    assert sorted(int(r["PutRequest"]["Item"]["employeeid"]["N"]) for r in client.stored) == list(
        range(30)
    )


class DeadEngine:
    """An engine killed mid-load: the first batches land, then every request fails."""

    def __init__(self, alive_for: int) -> None:
        self.alive_for, self.calls = alive_for, 0
        self.lock = threading.Lock()

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        from botocore.exceptions import EndpointConnectionError

        with self.lock:
            self.calls += 1
            if self.calls > self.alive_for:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return {"UnprocessedItems": {}}


def test_an_engine_that_dies_fails_the_load_at_once_with_what_was_written() -> None:
    engine = DeadEngine(alive_for=4)
    with pytest.raises(
        LoadError,
        match=r"^the load into t failed after writing 100 items: "
        r"EndpointConnectionError",
    ) as error:
        loaders.load(engine, "t", items(100_000), workers=1)
    assert "not reused" in str(error.value)
    assert engine.calls == 5  # it stopped at the first failure, not after 4000 batches


def test_a_bad_row_in_the_stream_is_reported_as_itself() -> None:
    from ddbspec.errors import DataError

    def rows():
        yield from items(30)
        raise DataError("logfile.csv line 31: requestid is 'x', expected a whole number")

    with pytest.raises(DataError, match="line 31"):
        loaders.load(StubClient(), "t", rows(), workers=2)
