"""The capacity gateway: forwards unchanged, meters like the model, throttles like DynamoDB.

Forwarding and faults are checked against a stub engine that records what reaches it;
metering and throttling against the run's dynalite, through boto3 as any client would.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ddbspec.capacity.gateway import Gateway
from ddbspec.capacity.metering import GSI_MESSAGE, TABLE_MESSAGE
from ddbspec.capacity.model import ScaledClock, Schema, item_size, read_units, write_cost
from ddbspec.engines import registry
from ddbspec.engines.info import EngineInfo
from ddbspec.workshop import tables

from suite import BUSY, REPO, interruptible

# --- A stub engine that records what reaches it ------------------------------------------------


class Stub:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.answer: tuple[int, dict[str, str], bytes] = (
            200,
            {"x-stub": "1"},
            b'{"TableNames":[]}',
        )
        self.delay = 0.0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stub.seen.append((self.command, self.path, dict(self.headers.items()), body))
                time.sleep(stub.delay)
                status, headers, payload = stub.answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    engine = Stub()
    yield engine
    engine.close()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(
        "POST", "/", body, {"X-Amz-Target": "DynamoDB_20120810.ListTables", **(headers or {})}
    )
    return conn.getresponse()


def test_requests_and_answers_pass_unchanged(stub):
    body = b'{"Limit": 3,   "ExclusiveStartTableName": "t\\u00e9"}'
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=k/x", "X-Amz-Date": "20240101T000000Z"}
    with Gateway(stub.url) as gateway:
        answer = post(gateway.url, body, headers)
        assert answer.status == 200 and answer.read() == b'{"TableNames":[]}'
        assert answer.getheader("x-stub") == "1"
    method, path, seen_headers, seen_body = stub.seen[0]
    assert (method, path, seen_body) == ("POST", "/", body)  # byte for byte
    for name, value in headers.items():
        assert seen_headers[name] == value


@pytest.mark.parametrize(
    "body",
    [b'{"TableName": ', b"not json at all", b"[1, 2]", b'{"TableName": 7, "Item": "x"}', b""],
)
def test_malformed_requests_go_to_the_engine_as_they_came(stub, body):
    stub.answer = (400, {}, b'{"__type":"com.amazon.coral.service#SerializationException"}')
    with Gateway(stub.url) as gateway:
        answer = post(gateway.url, body, {"X-Amz-Target": "DynamoDB_20120810.PutItem"})
        assert answer.status == 400
        assert b"SerializationException" in answer.read()
    assert [seen[3] for seen in stub.seen] == [body]


def test_other_services_and_methods_pass_through(stub):
    with Gateway(stub.url) as gateway:
        streams = post(gateway.url, b"{}", {"X-Amz-Target": "DynamoDBStreams_20120810.ListStreams"})
        assert streams.status == 200
        host, port = gateway.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
    assert [(s[0], s[1]) for s in stub.seen] == [("POST", "/"), ("GET", "/health")]


def test_a_request_too_large_is_refused_with_413(stub):
    with Gateway(stub.url, max_body=1000) as gateway:
        host, port = gateway.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("POST", "/", b"x" * 1001, {"X-Amz-Target": "DynamoDB_20120810.PutItem"})
        answer = conn.getresponse()
        assert answer.status == 413
        assert json.loads(answer.read())["__type"].endswith("#RequestEntityTooLarge")
        conn.request("POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables"})
        assert conn.getresponse().status == 200  # the same connection goes on
    assert [s[3] for s in stub.seen] == [b"{}"]


def test_a_client_gone_mid_request_is_not_forwarded(stub):
    with Gateway(stub.url) as gateway:
        host, port = gateway.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"Tab')
        time.sleep(0.2)
        assert post(gateway.url, b"{}").status == 200  # and the gateway serves on
    assert [s[3] for s in stub.seen] == [b"{}"]


def test_an_engine_that_is_down_is_a_503_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with Gateway(f"http://127.0.0.1:{port}") as gateway:
            client = local_client(gateway.url)
            start = time.monotonic()
            with pytest.raises(ClientError) as refused:
                client.list_tables()
    assert time.monotonic() - start < 2
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_an_engine_that_hangs_is_a_503_after_the_timeout(stub):
    stub.delay = 3
    with Gateway(stub.url, engine_timeout=0.5) as gateway:
        start = time.monotonic()
        answer = post(gateway.url, b"{}")
        assert answer.status == 503
        assert "did not answer" in json.loads(answer.read())["message"]
    assert time.monotonic() - start < 2


def test_the_command_line_gateway_stops_on_ctrl_c(stub):
    run = subprocess.Popen(
        interruptible([sys.executable, "-m", "ddbspec", "gateway", stub.url]),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = run.stdout.readline().split()[3]
        assert post(url, b"{}").status == 200
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=BUSY) == 0
    finally:
        run.kill()


def test_a_stopped_gateway_lets_its_port_go(stub):
    gateway = Gateway(stub.url).start()
    port = int(gateway.url.rsplit(":", 1)[1])
    client_conn = socket.create_connection(("127.0.0.1", port))  # a kept-alive client
    gateway.stop()
    client_conn.close()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert not [t for t in threading.enumerate() if t.name.startswith("ddbspec-gateway")]


# --- Metering and throttling, on dynalite ------------------------------------------------------


def local_client(url: str) -> Any:
    info = EngineInfo(name="gateway", endpoint_url=url)
    return info.client(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture(scope="module")
def dynalite(ddbspec_settings) -> EngineInfo:
    info = registry.acquire(ddbspec_settings, "dynalite")
    if info.error or info.unavailable:
        pytest.skip(f"dynalite: {info.error or info.unavailable}")
    return info


@pytest.fixture
def gateway(dynalite) -> Iterator[Gateway]:
    with Gateway(dynalite.endpoint_url, ScaledClock(1.0)) as gw:
        yield gw
    assert not gw.errors, gw.errors[0]


@pytest.fixture
def client(gateway) -> Any:
    return local_client(gateway.url)


INDEX = tables.Index("by_host", ("host", "S"), ("rid", "N"), "INCLUDE", read=1, write=1)
LOGS = tables.TableDef("gwlogs", ("rid", "N"), None, (INDEX,), read=5, write=5)
_names = iter(range(10**6))


@pytest.fixture
def table(client, ddbspec_settings) -> Iterator[Any]:
    """A table of LOGS' shape, made per test: ``table(read=, write=, index_write=)``."""
    made: list[str] = []

    def make(read: int = 5, write: int = 5, index_write: int = 1, on_demand: bool = False) -> str:
        name = f"{ddbspec_settings.table_prefix}-{ddbspec_settings.run_id}-gw-{next(_names)}"
        definition = dataclasses.replace(
            LOGS, read=read, write=write, indexes=(dataclasses.replace(INDEX, write=index_write),)
        )
        request = tables.create_table_request(definition, name, on_demand)
        request["GlobalSecondaryIndexes"][0]["Projection"]["NonKeyAttributes"] = ["bytes"]
        client.create_table(**request)
        tables.wait_active(client, name, tables.Waits())
        made.append(name)
        return name

    yield make
    for name in made:
        tables.delete_table(client, name, tables.Waits())


def schema_of(client: Any, name: str) -> Schema:
    return Schema.from_description(client.describe_table(TableName=name)["Table"])


@pytest.fixture
def engine(dynalite) -> Any:
    """The engine itself, not through the gateway: to check what was really written."""
    return local_client(dynalite.endpoint_url)


@pytest.mark.parametrize(
    ("operation", "request_for"),
    [
        ("batch_write_item", lambda t: {"RequestItems": {}}),
        (
            "batch_write_item",
            lambda t: {
                "RequestItems": {
                    t: [
                        {"PutRequest": {"Item": {"rid": {"N": "1"}}}},
                        {"PutRequest": {"Item": {"rid": {"N": "1"}}}},
                    ]
                }
            },
        ),
        ("put_item", lambda t: {"TableName": t, "Item": {"rid": {"S": 1}}}),
        ("put_item", lambda t: {"TableName": t, "Item": {"other": {"S": "x"}}}),
        ("put_item", lambda t: {"TableName": "no-such-table", "Item": {"rid": {"N": "1"}}}),
        ("get_item", lambda t: {"TableName": t, "Key": {"rid": {"N": "not a number"}}}),
        (
            "query",
            lambda t: {
                "TableName": t,
                "IndexName": "nope",
                "KeyConditionExpression": "a = :a",
                "ExpressionAttributeValues": {":a": {"S": "x"}},
            },
        ),
        ("transact_write_items", lambda t: {"TransactItems": [{"Put": {}, "Delete": {}}]}),
    ],
)
def test_invalid_requests_get_the_engines_own_answer(
    gateway, client, engine, table, operation, request_for
):
    name = table(write=100)
    gateway.clock.skip(300)
    answers = []
    for via in (client, engine):
        with pytest.raises(ClientError) as refused:
            getattr(via, operation)(**request_for(name))
        answers.append(refused.value.response["Error"]["Code"])
    assert answers[0] == answers[1]
    assert not gateway.errors


def test_a_table_throttle_as_botocore_parses_it(client, engine, table):
    name = table(write=1)  # created empty: no credit for a while
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as refused:
        client.put_item(TableName=name, Item={"rid": {"N": "1"}})
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"] == {
        "Code": "ProvisionedThroughputExceededException",
        "Message": TABLE_MESSAGE,
    }
    arn = client.describe_table(TableName=name)["Table"]["TableArn"]
    assert response["ThrottlingReasons"] == [
        {"reason": "TableWriteProvisionedThroughputExceeded", "resource": arn}
    ]
    assert engine.scan(TableName=name)["Count"] == 0  # not written


def test_an_index_short_of_capacity_throttles_its_table(gateway, client, table):
    name = table(write=1000, index_write=1)  # the index earns a unit a second, from creation
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as refused:
        for rid in range(100):
            client.put_item(TableName=name, Item={"rid": {"N": str(rid)}, "host": {"S": "a"}})
    response = refused.value.response
    assert response["Error"]["Message"] == GSI_MESSAGE
    assert [r["reason"] for r in response["ThrottlingReasons"]] == [
        "IndexWriteProvisionedThroughputExceeded"
    ]
    assert response["ThrottlingReasons"][0]["resource"].endswith(f"/{name}/index/by_host")
    client.put_item(TableName=name, Item={"rid": {"N": "1000"}})  # not in the index: it goes
    metrics = gateway.metrics
    assert metrics.total("WriteThrottleEvents", name) == 0  # the table had the capacity
    assert metrics.total("WriteThrottleEvents", name, "by_host") == 1
    assert metrics.total("ThrottledRequests", name) == 1


def test_consumed_capacity_follows_the_gsi_rules(gateway, client, table):
    name = table(write=100, index_write=100)
    gateway.clock.skip(300)
    schema = schema_of(client, name)
    steps = [
        {"rid": {"N": "1"}, "host": {"S": "a"}, "bytes": {"N": "10"}},  # enters the index
        {"rid": {"N": "1"}, "host": {"S": "a"}, "bytes": {"N": "10"}, "ua": {"S": "x"}},  # 0
        {"rid": {"N": "1"}, "host": {"S": "a"}, "bytes": {"N": "11"}},  # projected change
        {"rid": {"N": "1"}, "host": {"S": "b"}, "bytes": {"N": "11"}},  # key change: 2
        {"rid": {"N": "1"}, "bytes": {"N": "11"}, "ua": {"S": "y" * 3000}},  # leaves: 1
    ]
    expected_index = [1, 0, 1, 2, 1]
    old = None
    for item, index_units in zip(steps, expected_index, strict=True):
        answer = client.put_item(TableName=name, Item=item, ReturnConsumedCapacity="INDEXES")
        consumed = answer["ConsumedCapacity"]
        cost = write_cost(schema, old, item)
        assert consumed["Table"]["CapacityUnits"] == cost.table
        assert (
            consumed.get("GlobalSecondaryIndexes", {}).get("by_host", {}).get("CapacityUnits", 0)
            == index_units
        )
        assert consumed["CapacityUnits"] == cost.total()
        old = item
    deleted = client.delete_item(
        TableName=name, Key={"rid": {"N": "1"}}, ReturnConsumedCapacity="TOTAL"
    )["ConsumedCapacity"]
    assert deleted == {"TableName": name, "CapacityUnits": 3, "WriteCapacityUnits": 3}


def test_update_item_is_metered_on_the_item_it_leaves(gateway, client, table):
    name = table(write=100, index_write=100)
    gateway.clock.skip(300)
    client.put_item(TableName=name, Item={"rid": {"N": "1"}, "bytes": {"N": "1"}})
    answer = client.update_item(
        TableName=name,
        Key={"rid": {"N": "1"}},
        UpdateExpression="SET #h = :h",
        ExpressionAttributeNames={"#h": "host"},
        ExpressionAttributeValues={":h": {"S": "z"}},
        ReturnConsumedCapacity="INDEXES",
    )
    assert "Attributes" not in answer  # the client asked for none
    assert answer["ConsumedCapacity"]["GlobalSecondaryIndexes"] == {
        "by_host": {"CapacityUnits": 1, "WriteCapacityUnits": 1}
    }
    old_values = client.update_item(
        TableName=name,
        Key={"rid": {"N": "1"}},
        UpdateExpression="REMOVE host",
        ReturnValues="ALL_OLD",
        ReturnConsumedCapacity="INDEXES",
    )
    assert old_values["Attributes"]["host"] == {"S": "z"}
    assert old_values["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by_host"]["CapacityUnits"] == 1


def test_reads_are_metered_by_what_they_evaluate(gateway, client, table):
    name = table(write=100, index_write=100)
    gateway.clock.skip(300)
    big = {"rid": {"N": "1"}, "host": {"S": "a"}, "ua": {"S": "u" * 5000}}  # 5 KB: 2 units
    client.put_item(TableName=name, Item=big)
    for rid in range(2, 12):
        client.put_item(TableName=name, Item={"rid": {"N": str(rid)}, "host": {"S": "b"}})
    get = client.get_item(
        TableName=name,
        Key={"rid": {"N": "1"}},
        ProjectionExpression="rid",
        ConsistentRead=True,
        ReturnConsumedCapacity="TOTAL",
    )
    assert get["ConsumedCapacity"]["CapacityUnits"] == 2  # the whole item is read
    eventual = client.get_item(
        TableName=name, Key={"rid": {"N": "1"}}, ReturnConsumedCapacity="TOTAL"
    )
    assert eventual["ConsumedCapacity"]["ReadCapacityUnits"] == 1
    scan = client.scan(
        TableName=name,
        FilterExpression="host = :a",
        ExpressionAttributeValues={":a": {"S": "zzz"}},
        ConsistentRead=True,
        ReturnConsumedCapacity="TOTAL",
    )
    assert scan["Count"] == 0  # nothing returned, everything read: the sizes summed
    items = client.scan(TableName=name, ConsistentRead=True)["Items"]
    assert scan["ConsumedCapacity"]["CapacityUnits"] == read_units(sum(map(item_size, items)))
    query = client.query(
        TableName=name,
        IndexName="by_host",
        KeyConditionExpression="host = :b",
        ExpressionAttributeValues={":b": {"S": "b"}},
        ReturnConsumedCapacity="INDEXES",
    )
    assert query["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by_host"]["CapacityUnits"] == 0.5
    assert query["ConsumedCapacity"]["Table"]["CapacityUnits"] == 0


def test_a_batch_get_rounds_each_item_where_a_scan_rounds_the_sum(gateway, client, table):
    """BatchGetItem of 1.5 KB and 6.5 KB costs 4 KB + 8 KB; a Scan of them, 8 KB."""
    name = table(write=100, index_write=100)
    gateway.clock.skip(300)
    items = [sized(1, int(1.5 * 1024)), sized(2, int(6.5 * 1024))]
    for item in items:
        client.put_item(TableName=name, Item=item)
    keys = [{"rid": item["rid"]} for item in items]
    batch = client.batch_get_item(
        RequestItems={name: {"Keys": keys, "ConsistentRead": True}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert len(batch["Responses"][name]) == 2
    assert batch["ConsumedCapacity"][0]["CapacityUnits"] == 3
    scan = client.scan(TableName=name, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert scan["ConsumedCapacity"]["CapacityUnits"] == 2


def sized(rid: int, size: int) -> dict[str, Any]:
    """An item of LOGS' shape whose size is exactly ``size`` bytes."""
    item = {"rid": {"N": str(rid)}, "ua": {"S": ""}}
    item["ua"]["S"] = "u" * (size - item_size(item))
    assert item_size(item) == size
    return item


def test_a_batch_hands_back_what_the_table_cannot_take(gateway, client, engine, table):
    name = table(write=5, index_write=100)
    gateway.clock.rescale(0.001)  # from now on a slow machine's pauses earn (almost) nothing
    gateway.clock.skip(2)  # 10 units of credit, and the little the test's own time adds
    puts = [{"PutRequest": {"Item": {"rid": {"N": str(i)}}}} for i in range(25)]
    answer = client.batch_write_item(RequestItems={name: puts}, ReturnConsumedCapacity="TOTAL")
    left = answer["UnprocessedItems"][name]
    written = 25 - len(left)
    assert 10 <= written <= 12
    assert left == puts[written:]  # the first ones go, the rest come back in order
    assert answer["ConsumedCapacity"] == [
        {"TableName": name, "CapacityUnits": written, "WriteCapacityUnits": written}
    ]
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        client.batch_write_item(RequestItems={name: left})  # nothing can go: the whole request
    assert engine.scan(TableName=name, Select="COUNT")["Count"] == written


def test_new_capacity_holds_once_the_table_is_active_again(gateway, client, table):
    name = table(write=5)
    meter = gateway.metering.tables.get(name).meters[None]
    described = client.update_table(
        TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 50}
    )["TableDescription"]
    assert described["TableStatus"] == "UPDATING"
    assert meter.write_rate == 5  # the old capacity holds while the table updates
    tables.wait_active(client, name, tables.Waits())
    assert meter.write_rate == 50
    points = gateway.metrics.datapoints(
        "ProvisionedWriteCapacityUnits",
        name,
        start=0,
        end=gateway.clock.now() + 1,
        period=1,
        statistics=("Maximum",),
    )
    assert points[0]["Maximum"] == 5 and points[-1]["Maximum"] == 50


def test_on_demand_tables_are_never_throttled(client, table):
    name = table(on_demand=True)
    for i in range(60):
        answer = client.put_item(
            TableName=name,
            Item={"rid": {"N": str(i)}, "host": {"S": "h"}},
            ReturnConsumedCapacity="TOTAL",
        )
        assert answer["ConsumedCapacity"]["CapacityUnits"] == 2


def test_metrics_read_back_as_cloudwatch_datapoints(gateway, client, table):
    name = table(write=1)
    with pytest.raises(ClientError):
        client.put_item(TableName=name, Item={"rid": {"N": "1"}})
    gateway.clock.skip(5)
    client.put_item(TableName=name, Item={"rid": {"N": "1"}, "host": {"S": "h"}})
    window = {"start": 0, "end": gateway.clock.now() + 1, "period": 60}
    metrics = gateway.metrics
    [consumed] = metrics.datapoints("ConsumedWriteCapacityUnits", name, **window)
    assert consumed["Sum"] == 1 and consumed["Unit"] == "Count"
    assert consumed["Timestamp"].tzinfo is not None
    [on_index] = metrics.datapoints("ConsumedWriteCapacityUnits", name, "by_host", **window)
    assert on_index["Sum"] == 1
    assert metrics.total("WriteThrottleEvents", name) == 1
    assert metrics.total("ThrottledRequests", name, operations=["PutItem"]) == 1
    [provisioned] = metrics.datapoints(
        "ProvisionedWriteCapacityUnits", name, statistics=("Average", "SampleCount"), **window
    )
    assert provisioned["Average"] == 1 and provisioned["SampleCount"] >= 5


def test_transactions_cost_double_and_are_cancelled_whole(ddbspec_settings):
    moto = registry.acquire(ddbspec_settings, "moto")
    if moto.error or moto.unavailable:
        pytest.skip(f"moto: {moto.error or moto.unavailable}")
    with Gateway(moto.endpoint_url, ScaledClock(100)) as gateway:
        client = local_client(gateway.url)
        names = [
            f"{ddbspec_settings.table_prefix}-{ddbspec_settings.run_id}-gw-tx{i}" for i in (1, 2)
        ]
        for name, write in zip(names, (100, 1), strict=True):
            definition = dataclasses.replace(LOGS, indexes=(), write=write)
            client.create_table(**tables.create_table_request(definition, name))
            tables.wait_active(client, name, tables.Waits())
        roomy, tight = names
        gateway.clock.skip(300)
        try:
            answer = client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": roomy, "Item": {"rid": {"N": "1"}}}},
                    {
                        "Put": {
                            "TableName": roomy,
                            "Item": {"rid": {"N": "2"}, "b": {"S": "x" * 1500}},
                        }
                    },
                ],
                ReturnConsumedCapacity="TOTAL",
            )
            assert answer["ConsumedCapacity"] == [
                {"TableName": roomy, "CapacityUnits": 2 + 4, "WriteCapacityUnits": 6}
            ]
            big = {
                "rid": {"N": "3"},
                "b": {"S": "x" * 200_000},
            }  # 2 x 196 units: over 300 s of 1 WCU
            with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": roomy, "Item": {"rid": {"N": "4"}}}},
                        {"Put": {"TableName": tight, "Item": big}},
                        {"Put": {"TableName": tight, "Item": big | {"rid": {"N": "5"}}}},
                    ]
                )
            reasons = cancelled.value.response["CancellationReasons"]
            assert [r["Code"] for r in reasons] == ["None", "None", "ThrottlingError"]
            assert reasons[2]["Message"] == TABLE_MESSAGE
            cancelled_put = client.get_item(TableName=roomy, Key={"rid": {"N": "4"}})
            assert "Item" not in cancelled_put  # the whole transaction was cancelled
        finally:
            for name in names:
                tables.delete_table(client, name, tables.Waits())
        assert not gateway.errors, gateway.errors[0]
