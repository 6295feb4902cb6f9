"""Exercise 8, DynamoDB Streams and AWS Lambda: a replica kept by the table's own stream.

Every write to a table with a stream becomes a record in the stream, in order for each item.
The workshop enabled a stream on ``tlog`` with UpdateTable (NEW_IMAGE), mapped it to a
Lambda function (batches of 100 from TRIM_HORIZON) that writes each new image to
``tlog_replica``, loaded logfile_stream.csv and scanned the replica: Count 2000.

The function here is ``ddbspec.workshop.replica``. On AWS (``--aws``) it is deployed as the workshop
deployed it (``ddbspec.aws.lambda_deploy``): a role only Lambda may assume, a policy scoped to
this run's stream, replica and log group, the zipped function, the event source mapping.
Elsewhere no Lambda runs, so the suite's own runner (``workshop.streams``) is the mapping: it
reads the stream and invokes the same handler with the events Lambda would build.

The workshop's function ignored REMOVE and swallowed its own errors: its replica drifted,
and a failed batch was lost without a word. The tests show what a faithful one does instead:
deletes reach the replica, a failed batch is retried until it is applied, and a consumer
stopped halfway resumes from its checkpoint with nothing lost and nothing doubled. The fault
tests run their own consumers on the same stream (a DynamoDB stream serves two readers at
once: the module's mapping and one of theirs), each into a replica of its own.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ddbspec import progress
from ddbspec.aws import lambda_deploy, mock_lambda
from ddbspec.capacity import costs as costs_of
from ddbspec.targets import Target
from ddbspec.workshop import datasets, loaders, queries, replica, streams, tables
from ddbspec.workshop.queries import paginate
from ddbspec.workshop.streams import BatchFailed, Checkpoint, Retry, Runner, StreamError

pytestmark = pytest.mark.needs("streams")

POLL = 0.25  # seconds between polls of an idle shard: Lambda's four a second. The module's
# mapping idles through every other test, and a faster poll only took the engine from them
QUICK = Retry(attempts=2, backoff=0.01)  # faults are injected on purpose: retry at once
VICTIM = 150  # the record given an unknown event name: in the second batch of 100
WAIT = 120.0  # seconds a consumer may take to catch up
LAMBDA_WAIT = 900.0  # seconds the deployed function may take to replicate the load on AWS


def snapshot(ddb: Any, table: str) -> dict[str, dict[str, Any]]:
    """Every item of the table, in wire format, by requestid: what "equal" compares."""
    pages = paginate(ddb, "scan", TableName=table, ConsistentRead=True)
    return {item["requestid"]["N"]: item for page in pages for item in page["Items"]}


@dataclass(frozen=True)
class Clients:
    """The module's clients, made once and shared by its threads (boto3's clients are
    thread-safe): making one costs the test process about 150 ms of CPU."""

    ddb: Any
    streams: Any


@dataclass
class Source:
    """A table with a stream; ``end.now()`` is where its stream ends (read incrementally)."""

    name: str
    stream: streams.Stream
    end: streams.StreamEnd
    clients: Clients
    _seen: dict[str, dict[str, Any]] = field(default_factory=dict)

    def items(self, ddb: Any) -> dict[str, dict[str, Any]]:
        """The table's items, scanned again only once its stream has moved on: moto
        serializes about a thousand items a second, so every scan it spares counts."""
        key = self.end.now().to_json()
        if key not in self._seen:
            self._seen = {key: snapshot(ddb, self.name)}
        return self._seen[key]


def runner(source: Source, handler: Any, **options: Any) -> Runner:
    """A local event source mapping on the source's stream: batches of 100, TRIM_HORIZON."""
    options.setdefault("poll_interval", POLL)
    return Runner(source.clients.streams, source.stream.arn, handler, **options)


def caught_up(source: Source, consumer: Runner) -> None:
    """Wait until ``consumer`` has applied everything the stream holds now."""
    consumer.wait_for(source.end.now(), timeout=WAIT)


@pytest.fixture(scope="module")
def rows(data_dir) -> list[dict[str, Any]]:
    return datasets.tlog_items(data_dir / "logfile_stream.csv")


@pytest.fixture(scope="module")
def clients(target: Target) -> Clients:
    return Clients(target.client(), target.client("dynamodbstreams"))


@contextlib.contextmanager
def source_table(
    target: Target, clients: Clients, base: str, view: str = "NEW_IMAGE"
) -> Iterator[Source]:
    """A tlog table whose stream is enabled afterwards with UpdateTable, as the workshop does."""
    with target.table(tables.TLOG_STREAMED, base) as name:
        stream = streams.enable_stream(clients.ddb, name, target.waits, view)
        yield Source(name, stream, streams.StreamEnd(clients.streams, stream.arn), clients)


@pytest.fixture(scope="module")
def source(target: Target, clients: Clients) -> Iterator[Source]:
    with source_table(target, clients, "tlog") as s:
        yield s


@dataclass
class Replication:
    """The module's replica and what keeps it: the mapping's settings, the deployment (on
    AWS), and ``caught_up()``, which waits until the replica reflects the stream so far."""

    replica: str
    mapping: dict[str, Any]
    caught_up: Callable[[], None]
    deployment: lambda_deploy.Deployment | None = None
    spent: dict[str, costs_of.Spend] = field(default_factory=dict)  # by the load's end


def say(line: str) -> None:
    """A line on the terminal while the AWS path waits, so a slow step is seen, not guessed."""
    progress.say(f"[exercise 8] {line}")


SOURCE, REPLICA = "the load into tlog", "the replica's writes"


@pytest.fixture(scope="module")
def replication(target: Target, source: Source, rows, ledger) -> Iterator[Replication]:
    """tlog_replica, kept from before the load (the workshop's order) by the function: on
    AWS the deployed one, elsewhere the suite's runner with the same handler. The load and
    the runner's writes are metered; what they cost by the load's end is kept."""
    load = functools.partial(loaders.load_verified, ledger.metered(target.client(), SOURCE))
    with target.table(tables.TLOG_REPLICA) as name:
        if target.info.name == "aws":
            with deployed_function(target, source, name, rows, load, say) as r:
                r.spent = copy.deepcopy(ledger.spent)
                yield r
            return
        function = replica.Replicator(name, ledger.metered(target.client(), REPLICA))
        mapping = runner(source, function)
        settings = {
            "EventSourceArn": source.stream.arn,
            "BatchSize": mapping.batch_size,
            "StartingPosition": mapping.start_position,
        }
        with mapping.running():
            load(source.name, rows)
            replication = Replication(name, settings, lambda: caught_up(source, mapping))
            replication.caught_up()
            replication.spent = copy.deepcopy(ledger.spent)
            yield replication


@contextlib.contextmanager
def deployed_function(
    target: Target,
    source: Source,
    name: str,
    rows: list,
    load: Callable[[str, list], int],
    say: Callable[[str], None],
) -> Iterator[Replication]:
    """The workshop's steps 2-8 on AWS; everything removed afterwards, and checked gone.

    Under moto's mock (``ddbspec mock-aws``) the function cannot run: the suite
    stands in for Lambda with the deployed zip (``mock_lambda.stand_in``); every call that
    creates, inspects and deletes the resources is the real path.
    """
    deployment = None
    try:
        with lambda_deploy.deployed(
            target.client,
            names=lambda_deploy.Names.of(target.table_name("tlog")),
            stream_arn=source.stream.arn,
            replica_table=name,
            tags=target.tags(),
            poll=target.info.poll,
            progress=say,
        ) as deployment:
            mapping = target.client("lambda").get_event_source_mapping(UUID=deployment.mapping_uuid)
            stand_in = (
                mock_lambda.stand_in(target.client, deployment, poll_interval=POLL)
                if mock_lambda.active()
                else contextlib.nullcontext()
            )
            with stand_in as in_lambdas_place:
                deployment.invoked = True  # the load's records reach the function
                load(source.name, rows)
                lambda_deploy.wait_for_items(
                    target.client, deployment, len(rows), LAMBDA_WAIT, target.info.poll, say
                )
                wait = functools.partial(lambda_caught_up, target, source, name, in_lambdas_place)
                yield Replication(name, mapping, wait, deployment)
    except BaseException as error:
        if deployment is not None and (left := lambda_deploy.leftovers(target.client, deployment)):
            error.add_note(f"and the AWS path left resources behind: {left}")
        raise
    assert deployment is not None
    left = lambda_deploy.leftovers(target.client, deployment)
    assert not left, f"the AWS path left resources behind: {left}"


def lambda_caught_up(
    target: Target, source: Source, replica_table: str, stand_in: Runner | None
) -> None:
    """Wait until the function has applied the stream so far: under the mock, until the
    stand-in reaches the stream's end; on AWS, where Lambda's position cannot be asked,
    until the replica equals the source."""
    if stand_in is not None:
        caught_up(source, stand_in)
        return
    ddb = source.clients.ddb
    deadline = time.monotonic() + WAIT
    while snapshot(ddb, replica_table) != source.items(ddb):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{replica_table} did not catch up with {source.name}")
        time.sleep(target.info.poll)


@pytest.fixture
def fresh_replica(target: Target, request) -> Iterator[str]:
    """A replica of its own for one test, named after it."""
    base = "tlog_replica_" + request.node.name.removeprefix("test_")[:20]
    with target.table(tables.TLOG_REPLICA, base) as name:
        yield name


@pytest.fixture
def small_source(target: Target, clients: Clients, rows) -> Iterator[Source]:
    """A source of its own with the first 250 rows: three batches, for faults of the stream."""
    with source_table(target, clients, "tlog_small") as small:
        loaders.load_verified(clients.ddb, small.name, rows[:250])
        yield small


# --- the workshop's claim ---------------------------------------------------------------


def test_the_replica_holds_every_row_of_the_csv(clients, replication, rows, figures):
    count = loaders.count_items(clients.ddb, replication.replica)
    figures.check("replica scan Count", count, len(rows), printed="2000 2000")


def test_every_replica_item_equals_its_source_item(source, replication, rows, figures):
    ddb = source.clients.ddb
    source_items = source.items(ddb)
    replica_items = snapshot(ddb, replication.replica)
    equal = sum(replica_items.get(k) == item for k, item in source_items.items())
    figures.check("replica items equal to their source item", equal, len(rows))
    assert replica_items == source_items
    assert {int(k) for k in replica_items} == {row["requestid"] for row in rows}


def test_the_replica_doubles_what_each_change_costs(replication, rows, figures, costs):
    """Each change in tlog is written again, to the replica, by the function: with tlog's own
    definition (its index too), the replica costs each change its write units once more.
    Lambda's reads of the stream are free. Priced from the requests made: the load's batches
    and the function's; on AWS, where the function's writes are Lambda's own, the replica's
    are priced from the rows the test above finds in it."""
    items = [queries.serialize(row) for row in rows]
    expected = costs_of.load_spend(tables.schema(tables.TLOG_STREAMED), items)
    load = replication.spent[SOURCE]
    written = replication.spent.get(REPLICA) or costs_of.load_spend(
        tables.schema(tables.TLOG_REPLICA), items
    )
    figures.check("items the load wrote", load.written, len(rows))
    figures.check("write units of the load", load.wcu, expected.wcu)
    figures.check("items the function wrote to the replica", written.written, len(rows))
    figures.check("write units the replica adds", written.wcu, expected.wcu)
    assert written.write == load.write == expected.write
    costs.record(REPLICA, written, versus=SOURCE)
    costs.record(SOURCE, load)


def test_the_stream_is_mapped_as_the_workshop_maps_it(target, source, replication):
    """Batches of 100 from TRIM_HORIZON, on tlog's latest stream, to the replication function.

    On AWS the mapping is Lambda's, and the function runs as a role that only Lambda may
    assume, with one inline policy naming this run's stream, replica and log group and no
    other table. Under moto's mock of AWS (``ddbspec mock-aws``) the same resources
    are asserted here; the function's code cannot run there, so the suite runs the deployed
    zip itself, in Lambda's place (``mock_lambda.stand_in``), and the module's teardown checks
    that every resource it created is gone.
    """
    m = replication.mapping
    assert m["EventSourceArn"] == streams.find_stream(source.clients.ddb, source.name).arn
    assert (m["BatchSize"], m["StartingPosition"]) == (100, "TRIM_HORIZON")
    d = replication.deployment
    if d is None:  # no Lambda here: the suite's runner is the mapping, with the same handler
        return
    iam, lam, logs = target.client("iam"), target.client("lambda"), target.client("logs")
    role = iam.get_role(RoleName=d.names.role)["Role"]
    assert role["AssumeRolePolicyDocument"] == lambda_deploy.trust_policy()
    assert iam.list_role_policies(RoleName=d.names.role)["PolicyNames"] == [d.names.policy]
    assert iam.list_attached_role_policies(RoleName=d.names.role)["AttachedPolicies"] == []
    policy = iam.get_role_policy(RoleName=d.names.role, PolicyName=d.names.policy)
    assert policy["PolicyDocument"] == d.policy
    where = lambda_deploy.Arn.of(source.stream.arn)
    for statement in d.policy["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if actions == ["dynamodb:ListStreams"]:
            continue  # the one action IAM cannot scope (it reads no data)
        assert statement["Resource"] in (
            source.stream.arn,
            where.table(replication.replica),
            where.log_group(d.names.log_group) + ":*",
        )
    config = lam.get_function_configuration(FunctionName=d.names.function)
    assert (config["Runtime"], config["Handler"]) == ("python3.12", "replica.handler")
    assert config["Role"] == role["Arn"]
    assert config["Environment"]["Variables"] == {"REPLICA_TABLE": replication.replica}
    assert config["CodeSha256"] == lambda_deploy.code_sha256(d.code)
    assert m["FunctionArn"] == config["FunctionArn"]
    groups = logs.describe_log_groups(logGroupNamePrefix=d.names.log_group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [d.names.log_group]


# --- what the workshop's function did not do -------------------------------------------


def test_a_modify_and_a_remove_reach_the_replica(source, replication, rows, figures):
    ddb = source.clients.ddb
    replication.caught_up()
    before = source.items(ddb)  # what the replica held, as the test above shows
    changed, removed = (str(row["requestid"]) for row in rows[:2])
    ddb.update_item(
        TableName=source.name,
        Key={"requestid": {"N": changed}},
        UpdateExpression="SET bytessent = bytessent + :one, note = :n",
        ExpressionAttributeValues={":one": {"N": "1"}, ":n": {"S": "modified"}},
    )
    ddb.delete_item(TableName=source.name, Key={"requestid": {"N": removed}})
    replication.caught_up()
    after = snapshot(ddb, replication.replica)
    figures.check("replica items after a REMOVE", len(after), len(before) - 1)
    assert after[changed]["note"] == {"S": "modified"}
    assert int(after[changed]["bytessent"]["N"]) == int(before[changed]["bytessent"]["N"]) + 1
    assert removed not in after
    assert after == source.items(ddb)


class IgnoresRemoves:
    """The workshop's function in one respect: it applies INSERT and MODIFY, drops REMOVE."""

    def __init__(self, inner: replica.Replicator) -> None:
        self.inner = inner

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        kept = [r for r in event["Records"] if r["eventName"] != "REMOVE"]
        return self.inner({"Records": kept}, context) if kept else None


def test_a_function_that_ignores_removes_leaves_the_replica_drifting(
    source, replication, rows, fresh_replica, figures
):
    ddb = source.clients.ddb
    gone = str(rows[2]["requestid"])
    ddb.delete_item(TableName=source.name, Key={"requestid": {"N": gone}})
    workshop_like = runner(source, IgnoresRemoves(replica.Replicator(fresh_replica, ddb)))
    with workshop_like.running():
        caught_up(source, workshop_like)
    source_keys = set(source.items(ddb))
    drifted = snapshot(ddb, fresh_replica)
    stale = set(drifted) - source_keys
    figures.record(
        "items the REMOVE-ignoring function keeps too many",
        len(drifted) - len(source_keys),
        len(stale),
    )
    assert gone in stale  # deleted at the source, still in the replica
    assert len(drifted) > len(source_keys)  # the counts no longer match


# --- faults: retried, resumed, reported --------------------------------------------------


class Deliveries:
    """Wraps a handler: counts how often each record was delivered; can fail on purpose."""

    def __init__(self, inner: Any, fault: Callable[[int, list[dict]], None] | None = None):
        self.inner, self.fault = inner, fault
        self.invocations = 0
        self.by_record: dict[str, int] = {}
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.invocations += 1
        records = event["Records"]
        self.batches.append([r["dynamodb"]["SequenceNumber"] for r in records])
        for r in records:
            seq = r["dynamodb"]["SequenceNumber"]
            self.by_record[seq] = self.by_record.get(seq, 0) + 1
        if self.fault:
            self.fault(self.invocations, records)
        return self.inner(event, context)


def test_a_failed_batch_is_retried_and_nothing_is_lost_or_duplicated(
    source, replication, fresh_replica, figures
):
    ddb = source.clients.ddb
    apply = replica.Replicator(fresh_replica, ddb)

    def crash_midway(invocation: int, records: list[dict]) -> None:
        if invocation == 3:  # half the batch written, then the function dies
            apply({"Records": records[: len(records) // 2]}, None)
            raise RuntimeError("the function crashed halfway through its batch")

    deliveries = Deliveries(apply, crash_midway)
    consumer = runner(source, deliveries, retry=QUICK)
    with consumer.running():
        caught_up(source, consumer)
    redelivered = sorted(int(s) for s, n in deliveries.by_record.items() if n > 1)
    figures.check(
        "records delivered again after the failed batch",
        len(redelivered),
        len(deliveries.batches[2]),
    )
    assert consumer.stats.failed_invocations == 1
    assert deliveries.batches[2] == deliveries.batches[3]  # the same batch, again
    assert redelivered == sorted(int(s) for s in deliveries.batches[2])
    assert snapshot(ddb, fresh_replica) == source.items(ddb)


def test_a_consumer_stopped_midstream_resumes_from_its_checkpoint(
    source, replication, fresh_replica, figures
):
    ddb = source.clients.ddb
    apply = replica.Replicator(fresh_replica, ddb)
    first: dict[str, Runner] = {}

    def stop_after_writing(invocation: int, records: list[dict]) -> None:
        if invocation == 5:  # the batch is written, then the process stops before the
            apply({"Records": records}, None)  # checkpoint: the worst moment to stop
            first["runner"].request_stop()
            raise RuntimeError("stopped before the checkpoint")

    before = Deliveries(apply, stop_after_writing)
    first["runner"] = stopped = runner(source, before, retry=QUICK)
    with stopped.running():
        stopped._thread.join(WAIT)  # it stops by itself, on the fifth batch
    kept = Checkpoint.from_json(stopped.checkpoint.to_json())  # stored, as a process would
    assert stopped.error is None
    figures.check("batches applied before the stop", stopped.stats.batches, 4)
    partial = loaders.count_items(ddb, fresh_replica)
    assert 0 < partial < len(source.items(ddb))

    after = Deliveries(apply)
    resumed = runner(source, after, checkpoint=kept)
    with resumed.running():
        caught_up(source, resumed)
    assert after.batches[0] == before.batches[4]  # the unchecked batch, delivered again
    assert not set(after.by_record) & {s for b in before.batches[:4] for s in b}
    assert snapshot(ddb, fresh_replica) == source.items(ddb)


# --- bad input ---------------------------------------------------------------------------


def test_a_table_without_a_stream_is_refused_naming_it(target, clients):
    with (
        target.table(tables.TLOG_STREAMED, "tlog_nostream") as name,
        pytest.raises(StreamError) as refused,
    ):
        streams.find_stream(clients.ddb, name)
    assert f"table {name} has no enabled stream" in str(refused.value)
    assert f"update-table --table-name {name} --stream-specification" in str(refused.value)


def test_a_stream_without_new_images_is_refused_and_its_records_are_not_skipped(
    target, clients, rows, fresh_replica
):
    with source_table(target, clients, "tlog_keysonly", view="KEYS_ONLY") as keys_only:
        with pytest.raises(StreamError, match="is KEYS_ONLY: its records carry no NewImage"):
            streams.find_stream(clients.ddb, keys_only.name)
        loaders.load(clients.ddb, keys_only.name, rows[:3])
        consumer = runner(keys_only, replica.Replicator(fresh_replica, clients.ddb), retry=QUICK)
        with consumer.running(), pytest.raises(BatchFailed) as failed:
            caught_up(keys_only, consumer)
    assert "no NewImage (the stream's view type is KEYS_ONLY)" in str(failed.value)
    assert consumer.checkpoint.positions == {}


class Faulty:
    """The engine's streams client, with faults injected into GetRecords on purpose."""

    def __init__(
        self,
        real: Any,
        expire_calls: set[int] = frozenset(),
        rename: Callable[[dict], bool] | None = None,
    ) -> None:
        self.real, self.expire_calls, self.rename = real, expire_calls, rename
        self.get_records_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def get_records(self, **kwargs: Any) -> dict[str, Any]:
        self.get_records_calls += 1
        if self.get_records_calls in self.expire_calls:
            raise ClientError(
                {"Error": {"Code": "ExpiredIteratorException", "Message": "Iterator expired"}},
                "GetRecords",
            )
        response = self.real.get_records(**kwargs)
        for record in response.get("Records", []):
            if self.rename and self.rename(record):
                record["eventName"] = "UPSERT"
        return response


def test_an_expired_iterator_is_renewed_from_the_checkpoint(small_source, fresh_replica):
    ddb = small_source.clients.ddb
    deliveries = Deliveries(replica.Replicator(fresh_replica, ddb))
    faulty = Faulty(small_source.clients.streams, expire_calls={2, 4})
    consumer = Runner(faulty, small_source.stream.arn, deliveries, poll_interval=POLL)
    with consumer.running():
        caught_up(small_source, consumer)
    assert consumer.stats.renewed_iterators == 2
    assert set(deliveries.by_record.values()) == {1}  # renewed exactly after the checkpoint
    assert snapshot(ddb, fresh_replica) == small_source.items(ddb)


def test_an_unknown_event_name_is_reported_not_skipped(small_source, fresh_replica):
    """The victim is the stream's 150th record, by its position: DynamoDB's sequence numbers
    are opaque, ordered strings (ministack's carry a clock), so none is picked by its value."""
    ddb = small_source.clients.ddb
    seen: list[str] = []  # each record's sequence number, once, in the stream's order

    def rename(record: dict) -> bool:
        seq = record["dynamodb"]["SequenceNumber"]
        if seq not in seen:
            seen.append(seq)
        return seen.index(seq) == VICTIM

    faulty = Faulty(small_source.clients.streams, rename=rename)
    consumer = Runner(
        faulty,
        small_source.stream.arn,
        replica.Replicator(fresh_replica, ddb),
        poll_interval=POLL,
        retry=QUICK,
    )
    with consumer.running(), pytest.raises(BatchFailed) as failed:
        caught_up(small_source, consumer)
    victim = seen[VICTIM]
    assert f"sequence number {victim}" in str(failed.value)
    assert "unknown eventName 'UPSERT'" in str(failed.value)
    (position,) = consumer.checkpoint.positions.values()
    assert seen.index(position) < VICTIM  # nothing checkpointed past it


def test_a_record_too_large_for_an_event_is_reported(target, clients, rows, fresh_replica):
    with source_table(target, clients, "tlog_large") as big:
        large = {**rows[0], "useragent": "x" * 40_000}
        loaders.load(clients.ddb, big.name, [*rows[1:5], large])
        limit = 20_000  # bytes an event may hold here (Lambda's is 6 MB)
        consumer = Runner(
            clients.streams,
            big.stream.arn,
            replica.Replicator(fresh_replica, clients.ddb),
            poll_interval=POLL,
            max_event_bytes=limit,
        )
        with consumer.running(), pytest.raises(streams.RecordTooLarge) as failed:
            caught_up(big, consumer)
    assert f"over the {limit} a function may receive" in str(failed.value)
    assert consumer.stats.records == 4  # the records before it were applied


def test_a_missing_replica_fails_the_batch_and_nothing_is_checkpointed_past_it(
    target, clients, rows
):
    ddb = clients.ddb
    with source_table(target, clients, "tlog_orphan") as orphan:
        loaders.load(ddb, orphan.name, rows[:30])
        missing = target.table_name("tlog_replica_missing")
        consumer = runner(orphan, replica.Replicator(missing, ddb), retry=QUICK)
        with consumer.running(), pytest.raises(BatchFailed) as failed:
            caught_up(orphan, consumer)
        assert "ResourceNotFoundException" in str(failed.value)
        assert consumer.checkpoint.positions == {}
        with target.table(tables.TLOG_REPLICA, "tlog_replica_missing") as created:
            assert created == missing
            resumed = runner(
                orphan, replica.Replicator(missing, ddb), checkpoint=consumer.checkpoint
            )
            with resumed.running():
                caught_up(orphan, resumed)
            assert snapshot(ddb, missing) == orphan.items(ddb)
