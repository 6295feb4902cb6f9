"""The faulty engine the matrix's tests rely on: Query pages one item short, nothing else.

The upstream is the run's dynalite, acquired as every test that needs a suite engine does;
the end-to-end check runs one spec module through the proxy, as ``ddbspec matrix`` runs a
user's endpoint, and reads the figures it got wrong from the JUnit XML.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ddbspec.config import Settings
from ddbspec.engines import registry
from ddbspec.engines.info import EngineInfo
from ddbspec.workshop import tables

from faulty import DroppingProxy
from suite import REPO, run_suite

ITEMS = 5
KEY = {":p": {"S": "p"}}
Figure = list[tuple[str, int, int]]  # (figure, measured, expected)
FIGURE = re.compile(r"figure '(?P<name>[^']+)': measured (?P<got>\d+), expected (?P<want>\d+)")


@pytest.fixture(scope="module")
def dynalite(ddbspec_settings: Settings) -> EngineInfo:
    info = registry.acquire(ddbspec_settings, "dynalite")
    if info.error or info.unavailable:
        pytest.skip(f"dynalite: {info.error or info.unavailable}")
    return info


@pytest.fixture
def proxy(dynalite: EngineInfo) -> Iterator[DroppingProxy]:
    """A proxy in front of dynalite; once closed, no thread of it runs and its port is shut."""
    with DroppingProxy(dynalite.endpoint_url) as running:
        yield running
    port = int(running.url.rsplit(":", 1)[1])
    assert not [t for t in threading.enumerate() if t.name.startswith("dropping-proxy")]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def table(dynalite: EngineInfo) -> Iterator[str]:
    """A table of ITEMS items under one partition key, made on dynalite itself."""
    ddb = dynalite.client()
    name = f"faulty-{uuid.uuid4().hex[:8]}"  # xdist's workers share the engine
    definition = tables.TableDef(name, ("pk", "S"), ("sk", "N"))
    tables.create_table(ddb, definition, name, tables.Waits())
    for sk in range(ITEMS):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(sk)}})
    yield name
    tables.delete_table(ddb, name, tables.Waits())


def query(ddb: Any, table: str) -> dict[str, Any]:
    return ddb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues=KEY
    )


def test_a_query_page_loses_its_last_item(proxy, dynalite, table):
    engine = query(dynalite.client(), table)
    faulty = query(EngineInfo(name="faulty", endpoint_url=proxy.url).client(), table)
    assert faulty["Items"] == engine["Items"][:-1]
    assert (faulty["Count"], faulty["ScannedCount"]) == (ITEMS - 1, ITEMS)
    assert proxy.dropped == 1


def test_a_changed_answer_still_passes_botocore_checksum(proxy, table):
    """Plain boto3 retries in legacy mode, which checks x-amz-crc32 against the body."""
    legacy = EngineInfo(name="faulty", endpoint_url=proxy.url).client(
        retries={"mode": "legacy", "max_attempts": 1}
    )
    assert query(legacy, table)["Count"] == ITEMS - 1


def test_scan_and_get_item_pass_unchanged(proxy, dynalite, table):
    engine, faulty = dynalite.client(), EngineInfo(name="faulty", endpoint_url=proxy.url).client()
    key = {"pk": {"S": "p"}, "sk": {"N": "0"}}
    for ddb in (engine, faulty):
        ddb.meta.events.register("after-call.dynamodb", drop_request_metadata)
    assert faulty.scan(TableName=table) == engine.scan(TableName=table)
    assert faulty.get_item(TableName=table, Key=key) == engine.get_item(TableName=table, Key=key)
    assert faulty.describe_table(TableName=table) == engine.describe_table(TableName=table)
    assert proxy.dropped == 0


def drop_request_metadata(parsed: dict[str, Any], **_: Any) -> None:
    """Two answers compare by content: their request ids and dates differ anyway."""
    parsed.pop("ResponseMetadata", None)


def test_empty_query_pages_pass_unchanged(proxy, table):
    faulty = EngineInfo(name="faulty", endpoint_url=proxy.url).client()
    empty = faulty.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "nobody"}},
    )
    assert (empty["Items"], empty["Count"], proxy.dropped) == ([], 0, 0)


def test_the_suite_through_the_proxy_fails_on_query_figures(proxy, tmp_path):
    """The overloaded index's figures come from Query pages: each is one short per page."""
    run, figures = run_overloading(proxy.url, tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert any(got == want - 1 for _, got, want in figures), run.stdout
    assert proxy.dropped > 0


def test_the_suite_on_the_engine_itself_passes(dynalite, tmp_path):
    """The control: the same run, straight to the upstream, fails nothing."""
    run, figures = run_overloading(dynalite.endpoint_url, tmp_path)
    assert (run.returncode, figures) == (0, []), run.stdout + run.stderr


def run_overloading(url: str, tmp: Path) -> tuple[subprocess.CompletedProcess, Figure]:
    """Exercise 4's specs on the endpoint at ``url``, as the matrix runs one engine's column;
    the run and the figures it failed."""
    lib = [str(REPO / "lib"), *filter(None, [os.environ.get("PYTHONPATH")])]
    report = tmp / "r.xml"
    run = run_suite(
        "specs/test_overloading.py",
        "-q",
        "--engine",
        "endpoint",
        "--endpoint-url",
        url,
        f"--junit-xml={report}",
        tmp=tmp,
        env={"PYTHONPATH": os.pathsep.join(lib)},
    )
    return run, failed_figures(report)


def failed_figures(report: Path) -> Figure:
    """(figure, measured, expected) of every figure a failure in the JUnit XML names."""
    messages = [f.get("message", "") for f in ET.parse(report).iter("failure")]
    return [
        (m["name"], int(m["got"]), int(m["want"]))
        for message in messages
        for m in FIGURE.finditer(message)
    ]
