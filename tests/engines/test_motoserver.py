"""motoserver: its replacements for moto's hot spots answer exactly as moto's own code does."""

from __future__ import annotations

import copy
import itertools
import random
import socket
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import boto3
import botocore.config
import pytest
from moto import backends, mock_aws
from moto.core import serialize
from moto.core.utils import get_service_model
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from ddbspec.engines import motoserver

from suite import engine_server, fake_aws_credentials, moto_put_back_afterwards, moto_sped_up

ITEM: dict[str, Any] = {
    "pk": {"N": "-12.50"},
    "s": {"S": "café"},
    "empty": {"S": ""},
    "b": {"B": b"\x00\xffbytes"},
    "b64": {"B": "AP8="},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "null": {"NULL": True},
    "no": {"BOOL": False},
    "map": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"M": {}}, {"BOOL": True}]}}},
    "list": {"L": []},
}


class Original(serialize.JSONSerializer):
    """moto's JSON serializer as it ships (this process runs no ``speed_up`` for good)."""

    _serialize_type_structure = serialize.BaseJSONSerializer._serialize_type_structure


class Fast(serialize.JSONSerializer):
    _serialize_type_structure = motoserver.fast_attribute_values(Original._serialize_type_structure)


def body(cls: type, service: str, operation: str, result: Any) -> str:
    model = get_service_model(service).operation_model(operation)
    picker = serialize.XFormedAttributePicker(response_transformers=None)
    return cls(operation_model=model, value_picker=picker).serialize(result)["body"]


RECORD = {
    "eventID": "1",
    "eventName": "INSERT",
    "dynamodb": {
        "Keys": {"pk": {"N": "1"}},
        "NewImage": ITEM,
        "SequenceNumber": "7",
        "SizeBytes": 10,
        "StreamViewType": "NEW_IMAGE",
    },
}
PAGE = {"Items": [ITEM, ITEM], "Count": 2, "LastEvaluatedKey": {"pk": {"N": "1"}}}
RESULTS = [
    ("dynamodb", "Query", PAGE),
    ("dynamodb", "GetItem", {"Item": ITEM}),
    ("dynamodb", "BatchGetItem", {"Responses": {"t": [ITEM]}, "UnprocessedKeys": {}}),
    ("dynamodb", "UpdateItem", {"Attributes": {}}),
    ("dynamodbstreams", "GetRecords", {"Records": [RECORD], "NextShardIterator": "it"}),
]


@pytest.mark.parametrize(("service", "operation", "result"), RESULTS)
def test_attribute_values_serialize_as_moto_serializes_them(service, operation, result):
    assert body(Fast, service, operation, result) == body(Original, service, operation, result)


@pytest.mark.parametrize("name", sorted(ITEM))
def test_values_cast_as_moto_casts_them(name):
    fast = motoserver.fast_cast_value(DynamoType.__dict__["cast_value"])
    value = DynamoType(ITEM[name])
    assert fast.fget(value) == value.cast_value


@pytest.mark.parametrize("name", sorted(ITEM))
def test_values_are_sized_as_moto_sizes_them(name):
    fast = motoserver.fast_size(DynamoType.size)
    value = DynamoType(ITEM[name])
    assert fast(value) == value.size()


def test_values_differ_as_moto_says_they_differ():
    # every pair of ITEM's values, and each value against an equal one of its own
    values = [DynamoType(v) for v in ITEM.values()] + [DynamoType({"S": "café"})]
    fast = motoserver.fast_not_equal(DynamoType.__ne__)
    for a, b in itertools.product(values, repeat=2):
        assert fast(a, b) == (a != b), (a, b)


def anatomy(copied: Any, original: Any) -> Any:
    """What a copy is made of, down to whether each value is the original's own object."""
    if isinstance(copied, Item):
        attrs = {k: anatomy(v, original.attrs[k]) for k, v in copied.attrs.items()}
        parts = [anatomy(copied.hash_key, original.hash_key), list(attrs.items())]
        keys = (copied.range_key, original.range_key)
        return [*parts, None if keys[0] is None else anatomy(*keys), type(copied.attrs)]
    if isinstance(copied, DynamoType):
        inner = copied.value
        if isinstance(inner, list) and inner and isinstance(inner[0], DynamoType):
            inner = [anatomy(c, o) for c, o in zip(inner, original.value, strict=True)]
        elif isinstance(inner, dict):
            inner = {k: anatomy(v, original.value[k]) for k, v in inner.items()}
        shared = (copied is original, copied.value is original.value)
        return (type(copied), copied.type, inner, shared)
    return copied


@pytest.mark.parametrize("range_key", [None, DynamoType({"S": "r"})])
def test_items_are_copied_as_moto_copies_them(range_key):
    item = Item(DynamoType({"N": "-12.50"}), range_key, ITEM)
    mine, motos = motoserver.copy_item(item, {}), copy.deepcopy(item)
    assert anatomy(mine, item) == anatomy(motos, item)
    # a list of results copied at once: an item in it twice is copied once, by both
    assert motoserver.copy_item(item, memo := {}) is motoserver.copy_item(item, memo)
    assert motoserver.copy_item(item, {}) is not motoserver.copy_item(item, {})


def test_moto_modules_are_listed_as_moto_lists_them():
    listed = motoserver.listed_once(backends.list_of_moto_modules)
    assert listed() == tuple(backends.list_of_moto_modules())
    assert "dynamodb" in listed()
    assert "127.0.0.1:5000" not in listed()


def test_a_value_that_is_not_a_wire_dict_takes_motos_own_path():
    class Value:
        S = "from an attribute"

    result = {"Item": {"a": Value()}}
    assert body(Fast, "dynamodb", "GetItem", result) == body(
        Original, "dynamodb", "GetItem", result
    )


def test_the_speed_up_leaves_responses_as_they_were(monkeypatch):
    fake_aws_credentials(monkeypatch, "us-east-1")
    moto_put_back_afterwards(monkeypatch)
    assert not moto_sped_up()
    with mock_aws():
        before = round_trip()
    motoserver.speed_up()
    motoserver.speed_up()  # installing twice wraps once
    assert moto_sped_up()
    with mock_aws():
        assert round_trip() == before


def round_trip() -> list[Any]:
    """A put, a scan, a query and a stream read, their answers without run-specific ids."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    for pk in ("3", "-1", "20", "2.5"):
        ddb.put_item(TableName="t", Item={**ITEM, "pk": {"N": pk}})
    scan = ddb.scan(TableName="t", Limit=3)
    query = ddb.query(
        TableName="t",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"N": "20"}},
    )
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    start = {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}
    iterator = streams.get_shard_iterator(**start)["ShardIterator"]
    images = [
        r["dynamodb"]["NewImage"] for r in streams.get_records(ShardIterator=iterator)["Records"]
    ]
    return [scan["Items"], scan["LastEvaluatedKey"], query["Items"], images]


def table_with(keys: list[dict[str, Any]], range_type: str | None) -> Table:
    """A table in moto's in-process backend holding ``keys``, put in the order given."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    schema = [{"AttributeName": "h", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "h", "AttributeType": "N"}]
    if range_type:
        schema.append({"AttributeName": "r", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "r", "AttributeType": range_type})
    ddb.create_table(
        TableName="order",
        KeySchema=schema,
        AttributeDefinitions=attrs,
        BillingMode="PAY_PER_REQUEST",
    )
    for key in keys:
        ddb.put_item(TableName="order", Item=key)
    return dynamodb_backends["123456789012"]["us-east-1"].get_table("order")


@pytest.mark.parametrize("range_type", [None, "S", "N"])
def test_all_items_keeps_motos_order(monkeypatch, range_type):
    fake_aws_credentials(monkeypatch, "us-east-1")
    rng = random.Random(7)
    numbers = ["10", "9", "-3", "2.5", "100", "0", "-0.5", "1E+3", "0.25"]
    keys = [
        {"h": {"N": h}} | ({"r": {range_type: rng.choice(numbers)}} if range_type else {})
        for h in numbers
        for _ in range(3 if range_type else 1)
    ]
    rng.shuffle(keys)
    with mock_aws():
        table = table_with(keys, range_type)
        mine = [(i.hash_key, i.range_key) for i in motoserver.all_items(table)]
        motos = [(i.hash_key, i.range_key) for i in Table.all_items(table)]
    assert mine == motos
    assert [Decimal(h.value) for h, _ in mine] == sorted(Decimal(h.value) for h, _ in mine)


@pytest.mark.parametrize(("code", "logged"), [(200, False), (400, False), (500, True)])
def test_only_server_errors_reach_the_access_log(monkeypatch, code, logged):
    lines: list[Any] = []
    monkeypatch.setattr(
        motoserver.MotoRequestHandler,
        "log_request",
        lambda self, code="-", size="-": lines.append(code),
    )
    handler = object.__new__(motoserver.QuietRequestHandler)
    handler.log_request(code)
    handler.log_request(HTTPStatus(code))
    assert lines == ([code, HTTPStatus(code)] if logged else [])


def test_all_items_follows_every_change_to_the_table(monkeypatch):
    fake_aws_credentials(monkeypatch, "us-east-1")
    with mock_aws():
        table = table_with([{"h": {"N": str(h)}, "r": {"S": "a"}} for h in (5, 3, 9)], "S")
        ddb = boto3.client("dynamodb", region_name="us-east-1")

        def keys() -> list[tuple[str, str]]:
            mine = [(i.hash_key.value, i.range_key.value) for i in motoserver.all_items(table)]
            assert mine == [(i.hash_key.value, i.range_key.value) for i in Table.all_items(table)]
            return mine

        assert keys() == [("3", "a"), ("5", "a"), ("9", "a")]
        assert motoserver.all_items(table) is not motoserver.all_items(table)  # a list each
        ddb.put_item(TableName="order", Item={"h": {"N": "4"}, "r": {"S": "b"}})
        ddb.put_item(TableName="order", Item={"h": {"N": "5"}, "r": {"S": "a"}, "x": {"S": "y"}})
        ddb.delete_item(TableName="order", Key={"h": {"N": "9"}, "r": {"S": "a"}})
        set_x = {"UpdateExpression": "SET x = :x", "ExpressionAttributeValues": {":x": {"N": "1"}}}
        ddb.update_item(TableName="order", Key={"h": {"N": "3"}, "r": {"S": "a"}}, **set_x)
        assert keys() == [("3", "a"), ("4", "b"), ("5", "a")]
        assert motoserver.all_items(table)[0].attrs["x"].value == "1"


def test_a_lambda_invocation_never_reaches_docker(monkeypatch, tmp_path, request):
    # moto runs a function in a container: with a daemon at DOCKER_HOST it would pull images
    # from registries that do not answer, for minutes, while the server's one lock holds
    # every other request (a write to a table with a stream mapping invokes it too)
    daemon = socket.socket(socket.AF_UNIX)
    request.addfinalizer(daemon.close)
    daemon.bind(str(tmp_path / "docker.sock"))
    daemon.listen()
    daemon.settimeout(0)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    fake_aws_credentials(monkeypatch, "us-east-1")
    with engine_server(tmp_path, "moto") as url:
        trust = '{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}'
        iam = boto3.client("iam", endpoint_url=url)
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        quick = botocore.config.Config(read_timeout=20, retries={"total_max_attempts": 1})
        client = boto3.client("lambda", endpoint_url=url, config=quick)
        client.create_function(
            FunctionName="f",
            Runtime="python3.12",
            Role=role,
            Handler="f.handler",
            Code={"ZipFile": b"PK\x05\x06" + bytes(18)},  # an empty zip
        )
        answer = client.invoke(FunctionName="f")
    assert answer.get("FunctionError"), answer
    with pytest.raises(BlockingIOError):
        daemon.accept()  # nobody called the daemon
