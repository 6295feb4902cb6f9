"""streams: the event source mapping runner against an in-memory stream (no engine).

The fake stream has what a real one has and moto's has not: several shards with parents,
closed shards that end (no NextShardIterator), iterators that expire.
"""

from __future__ import annotations

import datetime
import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ddbspec.workshop.streams import (
    BatchFailed,
    Checkpoint,
    RecordTooLarge,
    Retry,
    Runner,
    StreamEnd,
    StreamError,
    event_record,
    event_size,
    ready_shards,
    shard_order,
    stream_of,
)

ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/tlog/stream/2026-11-29T00:00:00.000"
NO_WAIT = Retry(attempts=2, backoff=0)


def raw(seq: int, name: str = "INSERT", rid: int | None = None) -> dict[str, Any]:
    """A record as GetRecords returns it through boto3."""
    rid = seq if rid is None else rid
    keys = {"requestid": {"N": str(rid)}}
    ddb: dict[str, Any] = {
        "ApproximateCreationDateTime": datetime.datetime(
            2026, 11, 29, 12, 0, 1, 500000, tzinfo=datetime.timezone.utc
        ),
        "Keys": keys,
        "SequenceNumber": str(seq),
        "SizeBytes": 50,
        "StreamViewType": "NEW_IMAGE",
    }
    if name != "REMOVE":
        ddb["NewImage"] = {**keys, "blob": {"B": b"\x00\x01"}, "n": {"N": "1.50"}}
    return {
        "eventID": f"id{seq}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": ddb,
    }


def expired() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ExpiredIteratorException", "Message": "Iterator expired"}},
        "GetRecords",
    )


class FakeStreams:
    """DescribeStream, GetShardIterator and GetRecords over shards held in memory."""

    def __init__(self, shards: dict[str, dict[str, Any]], page: int = 100) -> None:
        # shard id -> {"parent": id | None, "records": [...], "closed": bool}
        self.shards = shards
        self.page = page
        self.iterators: dict[str, tuple[str, int]] = {}
        self.expire_next = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_stream(self, StreamArn: str, ExclusiveStartShardId: str | None = None):
        self.calls.append(("describe_stream", {"ExclusiveStartShardId": ExclusiveStartShardId}))
        ids = list(self.shards)
        start = ids.index(ExclusiveStartShardId) + 1 if ExclusiveStartShardId else 0
        listed = []
        for sid in ids[start : start + self.page]:
            s = self.shards[sid]
            seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in s["records"]] or [0]
            rng = {"StartingSequenceNumber": str(min(seqs))}
            if s.get("closed"):
                rng["EndingSequenceNumber"] = str(max(seqs))
            shard = {"ShardId": sid, "SequenceNumberRange": rng}
            if s.get("parent"):
                shard["ParentShardId"] = s["parent"]
            listed.append(shard)
        description: dict[str, Any] = {"StreamArn": StreamArn, "Shards": listed}
        if start + self.page < len(ids):
            description["LastEvaluatedShardId"] = listed[-1]["ShardId"]
        return {"StreamDescription": description}

    def get_shard_iterator(self, StreamArn, ShardId, ShardIteratorType, SequenceNumber=None):
        self.calls.append(
            (
                "get_shard_iterator",
                {"ShardId": ShardId, "Type": ShardIteratorType, "SequenceNumber": SequenceNumber},
            )
        )
        records = self.shards[ShardId]["records"]
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        if ShardIteratorType == "TRIM_HORIZON":
            index = 0
        elif ShardIteratorType == "LATEST":
            index = len(records)
        elif ShardIteratorType == "AFTER_SEQUENCE_NUMBER":
            index = sum(s <= int(SequenceNumber) for s in seqs)
        else:
            index = sum(s < int(SequenceNumber) for s in seqs)
        return {"ShardIterator": self._iterator(ShardId, index)}

    def _iterator(self, shard: str, index: int) -> str:
        name = f"it-{len(self.iterators)}"
        self.iterators[name] = (shard, index)
        return name

    def get_records(self, ShardIterator: str, Limit: int = 1000):
        self.calls.append(("get_records", {"Limit": Limit}))
        if self.expire_next:
            self.expire_next -= 1
            raise expired()
        shard, index = self.iterators[ShardIterator]
        records = self.shards[shard]["records"][index : index + Limit]
        end = index + len(records)
        response: dict[str, Any] = {"Records": records}
        if not (self.shards[shard].get("closed") and end >= len(self.shards[shard]["records"])):
            response["NextShardIterator"] = self._iterator(shard, end)
        return response


class Recorder:
    """A handler that records what it was given, and fails as told."""

    def __init__(self, fail: Any = None) -> None:
        self.events: list[list[str]] = []
        self.fail = fail  # callable(sequence numbers, call index) -> bool

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        seqs = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.events.append(seqs)
        json.dumps(event)  # Lambda's events are JSON: anything else could not reach a function
        if self.fail and self.fail(seqs, len(self.events)):
            raise RuntimeError(f"handler failed on {seqs[0]}..{seqs[-1]}")

    def applied(self) -> list[int]:
        return sorted({int(s) for e in self.events for s in e})


def one_shard(n: int, closed: bool = False) -> FakeStreams:
    return FakeStreams({"s1": {"records": [raw(i) for i in range(1, n + 1)], "closed": closed}})


def drain(runner: Runner, rounds: int = 50) -> None:
    for _ in range(rounds):
        runner.poll()


# --- the event ---------------------------------------------------------------------------


def test_event_record_is_what_lambda_hands_the_function():
    event = event_record(raw(7), ARN)
    assert set(event) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert event["eventSourceARN"] == ARN and event["eventSource"] == "aws:dynamodb"
    ddb = event["dynamodb"]
    assert set(ddb) == {
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }
    assert ddb["ApproximateCreationDateTime"] == 1795953601  # seconds, rounded down
    assert ddb["NewImage"]["blob"] == {"B": "AAE="}  # base64, as in a JSON event
    assert ddb["NewImage"]["n"] == {"N": "1.50"}  # the exact decimal text
    assert json.loads(json.dumps(event)) == event


def test_old_image_and_user_identity_are_passed_through():
    r = raw(1, "REMOVE")
    r["dynamodb"]["OldImage"] = {"requestid": {"N": "1"}}
    r["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    event = event_record(r, ARN)
    assert "NewImage" not in event["dynamodb"] and event["dynamodb"]["OldImage"]
    assert event["userIdentity"]["principalId"] == "dynamodb.amazonaws.com"


def test_event_size_is_the_json_payload():
    records = [event_record(raw(i), ARN) for i in range(3)]
    assert event_size(records) == len(json.dumps({"Records": records}, separators=(",", ":")))


# --- finding the stream ------------------------------------------------------------------


def test_a_table_without_a_stream_is_named_with_how_to_enable_one():
    with pytest.raises(StreamError) as error:
        stream_of({"TableName": "tlog-7"})
    message = str(error.value)
    assert "table tlog-7 has no enabled stream" in message
    assert "update-table --table-name tlog-7 --stream-specification StreamEnabled=true" in message


def test_a_disabled_stream_is_no_stream():
    desc = {"TableName": "t", "LatestStreamArn": ARN, "StreamSpecification": {}}
    with pytest.raises(StreamError, match="no enabled stream"):
        stream_of(desc)


@pytest.mark.parametrize("view", ["KEYS_ONLY", "OLD_IMAGE"])
def test_a_stream_without_new_images_is_refused(view):
    spec = {"StreamEnabled": True, "StreamViewType": view}
    desc = {"TableName": "t", "LatestStreamArn": ARN, "StreamSpecification": spec}
    with pytest.raises(StreamError, match=f"is {view}: its records carry no NewImage"):
        stream_of(desc)
    assert stream_of(desc, need_new_image=False).view_type == view


# --- shard lineage -----------------------------------------------------------------------


def shard(sid: str, start: int, parent: str | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {
        "ShardId": sid,
        "SequenceNumberRange": {"StartingSequenceNumber": str(start)},
    }
    if parent:
        s["ParentShardId"] = parent
    return s


def test_parents_come_before_their_children_whatever_the_listing_order():
    shards = [
        shard("grandchild", 300, "child-b"),
        shard("child-b", 200, "root"),
        shard("child-a", 150, "root"),
        shard("root", 100),
        shard("orphan", 50, "trimmed-away"),  # its parent is older than 24 h: a root
    ]
    order = shard_order(shards)
    assert order == ["orphan", "root", "child-a", "child-b", "grandchild"]
    for s in shards:
        if s.get("ParentShardId") in order:
            assert order.index(s["ParentShardId"]) < order.index(s["ShardId"])


def test_a_child_is_read_only_after_its_parent_is_finished():
    shards = [shard("root", 1), shard("a", 10, "root"), shard("b", 20, "root"), shard("c", 5)]
    assert ready_shards(shards, set()) == ["root", "c"]  # roots by first sequence number
    assert ready_shards(shards, {"root"}) == ["a", "b", "c"]
    assert ready_shards(shards, {"root", "a", "b", "c"}) == []


def test_the_runner_follows_the_lineage_across_closed_shards():
    stream = FakeStreams(
        {
            "child": {"parent": "parent", "records": [raw(i) for i in range(11, 16)]},
            "parent": {"records": [raw(i) for i in range(1, 11)], "closed": True},
        },
        page=1,  # DescribeStream pages through the shards one at a time
    )
    handler = Recorder()
    runner = Runner(stream, ARN, handler, batch_size=4, refresh_interval=0)
    drain(runner, 10)
    assert [int(s) for e in handler.events for s in e] == list(range(1, 16))  # in order
    assert runner.checkpoint.finished == {"parent"}
    assert runner.checkpoint.positions == {"parent": "10", "child": "15"}


# --- checkpoints -------------------------------------------------------------------------


def test_checkpoint_resumes_after_the_last_applied_record():
    cp = Checkpoint(ARN)
    assert cp.iterator_request("s1", "TRIM_HORIZON", False) == {"ShardIteratorType": "TRIM_HORIZON"}
    assert cp.iterator_request("s1", "LATEST", True) == {"ShardIteratorType": "LATEST"}
    assert cp.iterator_request("s1", "LATEST", False) == {"ShardIteratorType": "TRIM_HORIZON"}
    cp.advance("s1", "100")
    assert cp.iterator_request("s1", "LATEST", True) == {
        "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
        "SequenceNumber": "100",
    }
    assert cp.applied("s1", "99") and cp.applied("s1", "100") and not cp.applied("s1", "101")
    with pytest.raises(ValueError, match="would move back"):
        cp.advance("s1", "100")
    cp.finish("s0")
    assert Checkpoint.from_json(cp.to_json()) == cp
    copy = cp.copy()
    copy.advance("s1", "200")
    assert cp.positions["s1"] == "100"  # a copy is independent


def test_a_checkpoint_of_another_stream_is_refused():
    with pytest.raises(StreamError, match="a stream enabled again is a new stream"):
        Runner(one_shard(1), ARN, Recorder(), checkpoint=Checkpoint("arn:other"))


def test_batches_of_the_given_size_each_checkpointed_after_success():
    handler = Recorder()
    runner = Runner(one_shard(250), ARN, handler, batch_size=100)
    drain(runner, 5)
    assert [len(e) for e in handler.events] == [100, 100, 50]
    assert runner.checkpoint.positions == {"s1": "250"}
    assert runner.stats.batches == 3 and runner.stats.records == 250


def test_a_new_runner_resumes_from_a_kept_checkpoint_without_gaps_or_repeats():
    stream = one_shard(30)
    first = Recorder()
    runner = Runner(stream, ARN, first, batch_size=10)
    runner.poll()
    kept = runner.checkpoint
    assert kept.positions == {"s1": "10"}
    second = Recorder()
    drain(Runner(stream, ARN, second, batch_size=10, checkpoint=kept), 5)
    assert first.applied() + second.applied() == list(range(1, 31))


def test_latest_skips_what_was_there_and_reads_what_comes():
    stream = one_shard(5)
    handler = Recorder()
    runner = Runner(stream, ARN, handler, start="LATEST")
    runner.poll()
    stream.shards["s1"]["records"].append(raw(6))
    runner.poll()
    assert handler.applied() == [6]


def test_latest_skips_closed_shards_but_reads_their_new_children():
    stream = FakeStreams(
        {
            "old": {"records": [raw(1)], "closed": True},
            "new": {"parent": "old", "records": [raw(2)]},
        }
    )
    handler = Recorder()
    runner = Runner(stream, ARN, handler, start="LATEST", refresh_interval=0)
    drain(runner, 3)
    assert handler.applied() == []  # "new" was open at the start: from its latest record
    stream.shards["later"] = {"parent": "new", "records": [raw(3)]}
    stream.shards["new"]["closed"] = True
    drain(runner, 3)
    assert handler.applied() == [3]  # a shard found after the start is read from its start


# --- faults ------------------------------------------------------------------------------


def test_a_failed_batch_is_retried_and_nothing_is_lost_or_repeated_after_it():
    handler = Recorder(fail=lambda seqs, call: call == 2)  # the second invocation fails once
    runner = Runner(one_shard(30), ARN, handler, batch_size=10, retry=NO_WAIT)
    drain(runner, 5)
    assert handler.events[1] == handler.events[2]  # the same batch, delivered again
    assert handler.applied() == list(range(1, 31))
    assert runner.stats.failed_invocations == 1 and runner.stats.records == 30


def test_bisection_isolates_a_poison_record_and_checkpoints_up_to_it():
    handler = Recorder(fail=lambda seqs, call: "37" in seqs)
    runner = Runner(one_shard(100), ARN, handler, batch_size=100, retry=NO_WAIT)
    with pytest.raises(BatchFailed) as failure:
        drain(runner, 3)
    assert failure.value.first == failure.value.last == "37"
    assert "record id37 (sequence number 37) failed 2 times" in str(failure.value)
    assert "Nothing was checkpointed past it" in str(failure.value)
    assert runner.checkpoint.positions == {"s1": "36"}
    assert runner.stats.bisections > 0


def test_without_bisection_the_whole_batch_stops_the_runner():
    handler = Recorder(fail=lambda seqs, call: True)
    runner = Runner(one_shard(10), ARN, handler, retry=Retry(attempts=3, bisect=False, backoff=0))
    with pytest.raises(BatchFailed, match=r"10 records \(sequence numbers 1..10\) failed 3"):
        runner.poll()
    assert runner.checkpoint.positions == {}
    assert len(handler.events) == 3


def test_an_expired_iterator_is_renewed_from_the_checkpoint():
    stream = one_shard(30)
    handler = Recorder()
    runner = Runner(stream, ARN, handler, batch_size=10)
    runner.poll()
    stream.expire_next = 1
    drain(runner, 4)
    assert handler.applied() == list(range(1, 31))
    assert [len(e) for e in handler.events] == [10, 10, 10]  # nothing delivered twice
    renewals = [c for c in stream.calls if c[0] == "get_shard_iterator"][1:]
    assert renewals[0][1]["Type"] == "AFTER_SEQUENCE_NUMBER"
    assert renewals[0][1]["SequenceNumber"] == "10"
    assert runner.stats.renewed_iterators == 1


def test_a_record_too_large_for_an_event_is_reported_not_dropped():
    handler = Recorder()
    one = event_size([event_record(raw(1), ARN)])
    runner = Runner(one_shard(10), ARN, handler, max_event_bytes=one * 3)
    runner.poll()  # a batch over the limit is split, as Lambda splits it
    assert handler.applied() == list(range(1, 11))
    assert all(len(e) <= 3 for e in handler.events)
    big = one_shard(3)
    big.shards["s1"]["records"][1]["dynamodb"]["NewImage"]["pad"] = {"S": "x" * (one * 4)}
    runner = Runner(big, ARN, Recorder(), max_event_bytes=one * 3)
    with pytest.raises(RecordTooLarge, match=r"record id2 .* over the"):
        runner.poll()
    assert runner.checkpoint.positions == {"s1": "1"}


# --- the thread --------------------------------------------------------------------------


def test_the_thread_can_be_waited_on_and_stops_cleanly():
    stream = one_shard(50)
    handler = Recorder()
    runner = Runner(stream, ARN, handler, batch_size=20, poll_interval=0.01)
    with runner.running():
        runner.wait_for("50", timeout=10)
        stream.shards["s1"]["records"].append(raw(51))
        runner.wait_for(51, timeout=10)
        runner.wait_idle(timeout=10)
    assert not runner.alive
    assert runner.checkpoint.positions == {"s1": "51"}


def test_a_failure_in_the_thread_is_raised_by_the_waits():
    runner = Runner(
        one_shard(5), ARN, Recorder(fail=lambda s, c: True), retry=NO_WAIT, poll_interval=0.01
    )
    with runner.running(), pytest.raises(BatchFailed):
        runner.wait_for(5, timeout=10)
    assert isinstance(runner.error, BatchFailed)


def test_a_stop_asked_for_while_a_batch_fails_leaves_it_unchecked():
    """A crash after the writes but before the checkpoint: the batch is delivered again."""
    holder: dict[str, Runner] = {}

    def crash(seqs: list[str], call: int) -> bool:
        if call == 2:
            holder["r"].request_stop()
            return True
        return False

    stream = one_shard(30)
    handler = Recorder(fail=crash)
    holder["r"] = runner = Runner(stream, ARN, handler, batch_size=10, poll_interval=0.01)
    with runner.running():
        runner._thread.join(10)  # it stops by itself
    assert runner.error is None and runner.checkpoint.positions == {"s1": "10"}
    again = Recorder()
    drain(Runner(stream, ARN, again, batch_size=10, checkpoint=runner.checkpoint), 3)
    assert again.events[0] == handler.events[1]  # redelivered
    assert again.applied() == list(range(11, 31))


def test_waiting_on_a_stopped_runner_says_so():
    runner = Runner(one_shard(1), ARN, Recorder(), poll_interval=0.01)
    runner.start()
    runner.stop()
    with pytest.raises(StreamError, match="stopped before reaching sequence number 99"):
        runner.wait_for(99, timeout=5)


def test_the_runner_starts_once():
    runner = Runner(one_shard(1), ARN, Recorder(), poll_interval=0.01)
    with runner.running(), pytest.raises(RuntimeError, match="starts once"):
        runner.start()
    assert threading.active_count() >= 1


def test_the_stream_end_is_read_incrementally_and_can_be_waited_for():
    stream = FakeStreams(
        {
            "p": {"records": [raw(1), raw(2)], "closed": True},
            "c": {"parent": "p", "records": [raw(3)]},
        }
    )
    end = StreamEnd(stream, ARN)
    assert end.now().positions == {"p": "2", "c": "3"} and end.last == "3"
    stream.shards["c"]["records"] += [raw(4), raw(5)]
    before = len([c for c in stream.calls if c[0] == "get_records"])
    target = end.now()
    reads = [c for c in stream.calls if c[0] == "get_records"][before:]
    assert target.positions == {"p": "2", "c": "5"} and len(reads) == 2  # only the new part
    runner = Runner(stream, ARN, Recorder(), poll_interval=0.01)
    with runner.running():
        runner.wait_for(target, timeout=10)
    assert runner.checkpoint.applied("c", "5")
    assert StreamEnd(FakeStreams({"s": {"records": []}}), ARN).last is None
