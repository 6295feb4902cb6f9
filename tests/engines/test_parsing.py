"""``engines.parsing``: every answer reads as botocore reads it, or botocore reads it.

Each case is answered by a small HTTP server to two clients, the suite's (which parses here)
and one of botocore's own; both must return the same, or raise the same."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

from ddbspec import serving
from ddbspec.engines import clients, parsing
from ddbspec.workshop import tables

B64 = base64.b64encode(b"\x00\xffbinary").decode()
B64_TOO = base64.b64encode(b"other").decode()
EVERY_TYPE = {
    "s": {"S": "text"},
    "n": {"N": "12.50"},
    "b": {"B": B64},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [B64, B64_TOO]},
    "null": {"NULL": True},
    "bool": {"BOOL": False},
    "m": {"M": {"inner": {"B": B64}, "deeper": {"L": [{"N": "1"}, {"M": {}}]}}},
    "l": {"L": [{"S": "x"}, {"BS": [B64]}, {"L": []}]},
}
BINARY = (b"\x00\xffbinary", b"other")
AS_WRITTEN = EVERY_TYPE | {  # as a client is given it: bytes, which it encodes
    "b": {"B": BINARY[0]},
    "bs": {"BS": list(BINARY)},
    "m": {"M": {"inner": {"B": BINARY[0]}, "deeper": {"L": [{"N": "1"}, {"M": {}}]}}},
    "l": {"L": [{"S": "x"}, {"BS": [BINARY[1]]}, {"L": []}]},
}
CASES = {
    "every attribute type": ("Scan", 200, {"Items": [EVERY_TYPE], "Count": 1, "ScannedCount": 1}),
    "a page and its capacity": (
        "Query",
        200,
        {
            "Items": [{"k": {"S": "a"}}],
            "Count": 1,
            "ScannedCount": 3,
            "LastEvaluatedKey": {"k": {"S": "a"}, "b": {"B": B64}},
            "ConsumedCapacity": {
                "TableName": "t",
                "CapacityUnits": 0.5,
                "Table": {"ReadCapacityUnits": 0.5},
            },
        },
    ),
    "members the model does not know are dropped": (
        "GetItem",
        200,
        {"Item": {"k": {"S": "a", "X": "unknown"}, "v": {"Q": 1}}, "Surprise": [1, 2]},
    ),
    "null members are left out": (
        "Scan",
        200,
        {"Items": [{"k": {"S": None, "N": "1"}}, None], "Count": None, "LastEvaluatedKey": None},
    ),
    "maps of lists of items": (
        "BatchGetItem",
        200,
        {
            "Responses": {"t": [{"k": {"N": "1"}}, {"k": {"B": B64}}]},
            "UnprocessedKeys": {"t": {"Keys": [{"k": {"N": "2"}}], "ConsistentRead": True}},
        },
    ),
    "unprocessed writes": (
        "BatchWriteItem",
        200,
        {"UnprocessedItems": {"t": [{"PutRequest": {"Item": {"b": {"BS": [B64]}}}}]}},
    ),
    "an empty body": ("DeleteTable", 200, None),
    "a body that is not JSON": ("Scan", 200, b"<html>busy</html>"),
    "a body that is not an object": ("Scan", 200, [1, 2]),
    "a timestamp (left to botocore)": (
        "DescribeTable",
        200,
        {"Table": {"TableName": "t", "CreationDateTime": 1.7e9, "ItemCount": 3}},
    ),
    "an error": (
        "PutItem",
        400,
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "message": "no",
        },
    ),
}


PARSED_HERE = (
    "every attribute type",
    "a page and its capacity",
    "members the model does not know are dropped",
    "null members are left out",
    "maps of lists of items",
    "unprocessed writes",
)


class Canned(serving.Handler):
    """Answers each request with the case the test set, as DynamoDB's JSON protocol does."""

    answer: tuple[int, bytes] = (200, b"{}")

    def do_POST(self) -> None:  # http.server calls it by that name
        self.rfile.read(int(self.headers["Content-Length"]))
        status, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-RequestId", "same-id")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[serving.Server]:
    httpd = serving.Server(("127.0.0.1", 0), Canned)
    thread = httpd.serve_in("canned answers", daemon=True)
    yield httpd
    httpd.stop(thread)


def botocores_own(url: str) -> Any:
    """A client that botocore alone parses for: no handler of the suite's."""
    session = boto3.session.Session(botocore_session=botocore.session.get_session())
    config = Config(parameter_validation=False, retries={"total_max_attempts": 1})
    return session.client(
        "dynamodb", "us-east-1", endpoint_url=url, config=config, **clients.LOCAL_CREDENTIALS
    )


def outcome(call: Any) -> Any:
    try:
        answer = call()
    except Exception as error:  # the same error (each client has its classes), the same message
        return type(error).__name__, str(error)
    del answer["ResponseMetadata"]["HTTPHeaders"]["date"]  # the two answers' second may differ
    return answer


REQUESTS = {
    "Scan": {"TableName": "t"},
    "Query": {"TableName": "t"},
    "GetItem": {"TableName": "t", "Key": {"k": {"S": "a"}}},
    "BatchGetItem": {"RequestItems": {"t": {"Keys": [{"k": {"N": "1"}}]}}},
    "BatchWriteItem": {"RequestItems": {"t": [{"PutRequest": {"Item": {"k": {"N": "1"}}}}]}},
    "DeleteTable": {"TableName": "t"},
    "DescribeTable": {"TableName": "t"},
    "PutItem": {"TableName": "t", "Item": {"k": {"N": "1"}}},
}


@pytest.mark.parametrize("case", CASES)
def test_an_answer_reads_the_same_as_botocore_reads_it(server, case):
    operation, status, body = CASES[case]
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    Canned.answer = (status, raw)
    url = f"http://127.0.0.1:{server.server_port}"
    ours = clients.client("us-east-1", url, retries={"total_max_attempts": 1})
    theirs = botocores_own(url)
    method, request = botocore.xform_name(operation), REQUESTS[operation]
    left: list[bytes] = []  # the body botocore is left to parse, after the suite's handler
    ours.meta.events.register(
        "before-parse", lambda response_dict, **_: left.append(response_dict["body"])
    )
    got = outcome(lambda: getattr(ours, method)(**request))
    expected = outcome(lambda: getattr(theirs, method)(**request))
    assert got == expected
    assert (left == [b"{}"] and raw != b"{}") is (case in PARSED_HERE)


def test_shapes_with_timestamps_are_left_to_botocore():
    model = botocore.session.get_session().get_service_model("dynamodb")
    assert parsing.converter(model.operation_model("DescribeTable").output_shape) is None
    assert parsing.converter(model.operation_model("Scan").output_shape) is not None
    streams = botocore.session.get_session().get_service_model("dynamodbstreams")
    assert parsing.converter(streams.operation_model("GetRecords").output_shape) is None


def test_a_real_engines_items_read_the_same(dynalite, ddbspec_settings):
    """dynalite's own JSON, every attribute type, read by both clients."""
    ours = dynalite.client()
    theirs = botocores_own(dynalite.endpoint_url)
    name = f"{ddbspec_settings.table_prefix}-{ddbspec_settings.run_id}-parsing"  # swept if left
    ours.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "s", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "s", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        tables.wait_active(ours, name, dynalite.waits)
        for i in range(3):
            ours.put_item(TableName=name, Item={**AS_WRITTEN, "s": {"S": f"item {i}"}})
        scanned = ours.scan(TableName=name, ReturnConsumedCapacity="TOTAL")
        assert scanned["Count"] == 3 and scanned["Items"][0]["b"] == {"B": BINARY[0]}
        for read in ("scan", "get_item"):
            key = {"Key": {"s": {"S": "item 1"}}} if read == "get_item" else {}
            request = {"TableName": name, **key}
            got, expected = getattr(ours, read)(**request), getattr(theirs, read)(**request)
            for answer in (got, expected):
                del answer["ResponseMetadata"]  # two requests: two ids (the cases check it)
            assert got == expected
    finally:
        tables.delete_table(ours, name, dynalite.waits)
