"""The replication function of exercise 8: DynamoDB stream records applied to a replica table.

``handler(event, context)`` is an AWS Lambda handler. The same file is zipped alone and
deployed as the function on AWS (handler ``replica.handler``), so it imports nothing but the
standard library and boto3, which the Lambda Python runtime provides; locally, the suite's
event source mapping runner (``ddbspec.workshop.streams``) calls it in-process with the same events.

The workshop's function (ddbreplica_lambda.py) differed in six ways, each of which lost or
changed data without saying so:

- it turned every number into ``int``: decimals failed and big numbers could lose digits.
  Here the event's wire format goes to the low-level client as is, so N stays the exact
  decimal text it was written as;
- it handed binary on as base64 text, so the replica held text where the source held
  bytes. A Lambda event is JSON, so B and BS arrive base64-encoded: they are decoded back
  to bytes here (the client encodes them once more on the way out);
- it ignored REMOVE, so deleted items stayed in the replica for ever: here a REMOVE
  deletes the key;
- it caught every exception, printed the traceback and returned success, so Lambda
  checkpointed past records it had never written: here any failure raises, and the batch
  is retried;
- a record without NewImage (a stream of the wrong view type) was skipped with a print:
  here it is an error that says which view type the stream needs;
- the table name was a constant (and not even the table the workshop creates): here it
  comes from the function's environment, REPLICA_TABLE.

Applying a batch is idempotent: a put writes the whole new image and a delete removes the
key, so a batch delivered twice (a retry after a partial failure, a restart from an older
checkpoint) leaves the replica as one delivery would.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

log = logging.getLogger(__name__)

EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
WITH_NEW_IMAGE = ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
BATCH_WRITE_LIMIT = 25  # BatchWriteItem's limit
WRITE_ATTEMPTS = 8  # for items a throttled replica hands back unprocessed


class ReplicaError(Exception):
    """The batch cannot be applied; raised so that the batch is retried, never swallowed."""


class BadRecord(ReplicaError):
    """A record this function cannot apply: reported with its eventID and sequence number."""


@dataclass(frozen=True)
class Write:
    """One write to the replica: a put of a whole item, or a delete of a key (wire format)."""

    kind: str  # "put" | "delete"
    key: dict[str, Any]
    item: dict[str, Any] | None = None

    def request(self) -> dict[str, Any]:
        """This write as one BatchWriteItem request."""
        if self.kind == "put":
            return {"PutRequest": {"Item": self.item}}
        return {"DeleteRequest": {"Key": self.key}}


def _where(record: Mapping[str, Any]) -> str:
    ddb = record.get("dynamodb") or {}
    return (
        f"record {record.get('eventID', '?')} (sequence number "
        f"{ddb.get('SequenceNumber', '?')}, eventName {record.get('eventName')!r})"
    )


def _bytes(value: Any, where: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise BadRecord(f"{where}: binary value {value!r:.40} is not base64") from None


def from_event(value: Any, where: str = "record") -> dict[str, Any]:
    """One attribute value of a (JSON) Lambda event -> what the low-level client takes.

    Everything stays as received except binary, which a JSON event carries as base64 text.
    """
    if not isinstance(value, Mapping) or len(value) != 1:
        raise BadRecord(f"{where}: {value!r:.60} is not a DynamoDB attribute value")
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": _bytes(inner, where)}
    if tag == "BS":
        return {"BS": [_bytes(v, where) for v in inner]}
    if tag == "M":
        return {"M": {k: from_event(v, where) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [from_event(v, where) for v in inner]}
    return {tag: inner}


def _image(image: Any, where: str) -> dict[str, Any]:
    if not isinstance(image, Mapping) or not image:
        raise BadRecord(f"{where}: the image {image!r:.60} is not an item")
    return {name: from_event(value, where) for name, value in image.items()}


def plan(event: Mapping[str, Any]) -> list[Write]:
    """The writes a batch of stream records makes, validated before anything is written.

    Records of one key are in order in the stream, so within a batch only the last one for
    each key matters: the plan keeps that one, in the order of the last records. Any record
    this function cannot apply fails the whole batch, naming the record.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise ReplicaError(
            "the event has no Records list: it is not a DynamoDB stream event "
            f"(keys: {sorted(event) if isinstance(event, Mapping) else type(event).__name__})"
        )
    last: dict[str, Write] = {}
    for record in records:
        where = _where(record)
        source = record.get("eventSource", "aws:dynamodb")
        if source != "aws:dynamodb":
            raise BadRecord(f"{where}: eventSource is {source!r}, not a DynamoDB stream")
        name = record.get("eventName")
        if name not in EVENT_NAMES:
            raise BadRecord(
                f"{where}: unknown eventName {name!r}; expected one of "
                f"{', '.join(EVENT_NAMES)}. Refusing to skip it: the replica would drift."
            )
        ddb = record.get("dynamodb") or {}
        if not ddb.get("Keys"):
            raise BadRecord(f"{where}: no dynamodb.Keys, so the item cannot be identified")
        key = _image(ddb["Keys"], where)
        identity = json.dumps(ddb["Keys"], sort_keys=True, default=str)
        if name == "REMOVE":
            write = Write("delete", key)
        else:
            if "NewImage" not in ddb:
                view = ddb.get("StreamViewType", "unknown")
                raise BadRecord(
                    f"{where}: no NewImage (the stream's view type is {view}). A replica "
                    f"needs the new image: the stream must be one of {', '.join(WITH_NEW_IMAGE)}"
                )
            write = Write("put", key, _image(ddb["NewImage"], where))
        last.pop(identity, None)
        last[identity] = write
    return list(last.values())


def _backoff(attempt: int) -> float:
    return random.random() * min(2.0, 0.05 * 2**attempt)


@dataclass
class Replicator:
    """Applies stream events to one replica table through one low-level client."""

    table: str
    client: Any

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, int]:
        return self.apply(event)

    def apply(self, event: Mapping[str, Any]) -> dict[str, int]:
        """Apply every record of the event, or raise: nothing is ever skipped."""
        writes = plan(event)
        for start in range(0, len(writes), BATCH_WRITE_LIMIT):
            self._write([w.request() for w in writes[start : start + BATCH_WRITE_LIMIT]])
        summary = {
            "records": len(event["Records"]),
            "puts": sum(w.kind == "put" for w in writes),
            "deletes": sum(w.kind == "delete" for w in writes),
        }
        log.info("replicated to %s: %s", self.table, summary)
        return summary

    def _write(self, requests: list[dict[str, Any]]) -> None:
        pending = requests
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                time.sleep(_backoff(attempt))
            response = self.client.batch_write_item(RequestItems={self.table: pending})
            pending = response.get("UnprocessedItems", {}).get(self.table, [])
            if not pending:
                return
        raise ReplicaError(
            f"{len(pending)} writes to {self.table} were still unprocessed after "
            f"{WRITE_ATTEMPTS} attempts (the replica is throttled): failing the batch so "
            "that it is retried"
        )


_clients: dict[str | None, Any] = {}
_clients_lock = threading.Lock()


def _client() -> Any:
    """One client per region, made once and reused by every invocation (as Lambda advises)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    with _clients_lock:
        if region not in _clients:
            _clients[region] = boto3.client("dynamodb", region_name=region)
        return _clients[region]


def from_environment(environ: Mapping[str, str] | None = None) -> Replicator:
    """The replicator the function's configuration asks for: REPLICA_TABLE names the table."""
    table = (os.environ if environ is None else environ).get("REPLICA_TABLE")
    if not table:
        raise ReplicaError(
            "REPLICA_TABLE is not set: the function's environment must name the replica "
            "table (aws lambda update-function-configuration --function-name NAME "
            "--environment 'Variables={REPLICA_TABLE=tlog_replica}')"
        )
    return Replicator(table, _client())


def handler(event: Mapping[str, Any], context: Any) -> dict[str, int]:
    """The Lambda entry point: apply the batch to REPLICA_TABLE, or raise so it is retried."""
    return from_environment()(event, context)
