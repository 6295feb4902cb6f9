"""moto's server, answering one request at a time, with its hot spots made faster.

moto's backends are not thread-safe: two BatchWriteItems that create the same new partition
at once can each make its item dict, and one overwrites the other (seen: 3998 of 4000
employee items). The suite writes concurrently on purpose, so the server keeps moto's
threads (for keep-alive connections) but runs the application under one lock, as a real
service would serialize conflicting writes. ``python -m ddbspec.engines.motoserver HOST PORT``.

Under that lock, moto 5.2 spent most of the suite's time in a few places, which ``speed_up``
replaces with equivalents that answer byte for byte the same (tests/engines/test_motoserver.py
compares them with moto's own):

- its response serializer looks up each of an attribute value's ten possible type tags
  (S, N, ... BOOL) through five alias rules, for every attribute of every item returned:
  a GetRecords of 100 records cost 150 ms. Here a string, number, boolean or null value
  is copied as moto would copy it, and only the tags any other value holds are looked up;
- ``Table.all_items`` sorts the whole table on every Query and Scan page, comparing keys
  that convert themselves (to Decimal, for N) at each comparison: 40 ms a call on 4000
  items. Here each key is converted once per sort, the order is kept until the table's
  items change, and an S, B or BOOL value converts to itself without moto's five checks
  of its type first;
- a Query copies every item it returns (``copy.deepcopy``, a fifth of the in-process mock's
  time on the AWS path), sizes each one twice, and on an index compares every item's key
  with the query's. Here an item's string, number, boolean or null values are copied
  without the deepcopy dispatch around each (moto shares them with the copy all the same),
  a string or a number is sized by moto's rule without its checks for the other types, and
  two strings are compared as strings.

And two costs of every request are cut: moto's package directory, listed and stat'ed to
route each request (1 ms), is listed once; and the access log, a line per request, is left
out (``QuietRequestHandler``).
"""

from __future__ import annotations

import copy
import operator
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto import backends
from moto.core import serialize
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize, number_size
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

ATTRIBUTE_VALUE_TAGS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
WIRE_SERVICES = ("dynamodb", "dynamodbstreams")  # their AttributeValues are dicts by now
SORTED = "_ddbspec_sorted"  # a table's last all_items: (its objects, in order)
SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}  # tag: what moto copies as is
PLAIN_TAGS = frozenset({"S", "B", "BOOL"})  # values that moto's cast_value returns as they are
NESTED_TAGS = frozenset({"L", "M", "SS", "NS", "BS"})  # values moto's deepcopy copies, not shares
NO_DOCKER = "unix:///nonexistent/ddbspec-moto-runs-no-lambda-container.sock"


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without an access-log line for every request that succeeds
    or is refused: a loaded table is tens of thousands of lines, written while the other
    requests wait for the CPU. Server errors (5xx) are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(getattr(code, "value", code)).startswith("5"):
            super().log_request(code, size)


class OneAtATime:
    """A WSGI middleware that lets one request at a time into the application."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


# --- Serializing attribute values -------------------------------------------------------------


def _is_wire_value(serializer: Any, value: Any, shape: Any) -> bool:
    """Whether moto's picker would only ever find ``value``'s own tags: a dict in wire
    format, under DynamoDB's AttributeValue shape, with no response transformer in the way."""
    return (
        type(value) is dict
        and shape.name == "AttributeValue"
        and serializer.service_model.service_name in WIRE_SERVICES
        and shape.members.keys() == ATTRIBUTE_VALUE_TAGS
        and not getattr(serializer._value_picker, "response_transformers", None)
    )


def _scalar(value: dict[str, Any], shape: Any) -> tuple[str, Any] | None:
    """The (tag, value) of a string, number, boolean or null that moto's own methods copy
    as it is (no rename, no conversion); None for any other value."""
    if len(value) != 1:
        return None
    ((tag, inner),) = value.items()
    if type(inner) is not SCALARS.get(tag) or "name" in shape.members[tag].serialization:
        return None
    return tag, inner


def fast_attribute_values(original: Callable[..., None]) -> Callable[..., None]:
    """``_serialize_type_structure`` that serializes an AttributeValue dict directly: a
    scalar as it is, anything else member by member through moto's own per-type methods
    (the members it holds, in the order moto visits them)."""

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if not key or not _is_wire_value(self, value, shape):
            original(self, serialized, value, shape, key)
            return
        scalar = _scalar(value, shape)
        if scalar is not None:
            self._default_serialize(serialized, self.MAP_TYPE((scalar,)), shape, key)
            return
        wrapper: dict[str, Any] = self.MAP_TYPE()
        for tag, member in shape.members.items():
            if value.get(tag) is not None:  # what the picker finds for a dict, and skips
                member.parent = shape
                self._serialize(wrapper, value[tag], member, tag)
        self._default_serialize(serialized, wrapper, shape, key)

    serialize_structure.fast = True  # type: ignore[attr-defined]
    return serialize_structure


# --- Comparing values -----------------------------------------------------------------------


def fast_cast_value(original: property) -> property:
    """``DynamoType.cast_value`` (what every comparison of two values compares) without the
    five type checks moto makes before it returns an S, B or BOOL value unchanged."""

    def cast_value(self: DynamoType) -> Any:
        if self.type in PLAIN_TAGS:
            return self.value
        return original.fget(self)  # type: ignore[misc]

    cast_value.fast = True  # type: ignore[attr-defined]
    return property(cast_value)


def fast_not_equal(original: Callable[[DynamoType, DynamoType], bool]) -> Callable[..., bool]:
    """``DynamoType.__ne__``, which a query of an index calls for every item of the table
    (its hash key against the query's), comparing two S, B or BOOL values directly."""

    def not_equal(self: DynamoType, other: DynamoType) -> bool:
        if self.type in PLAIN_TAGS and other.type == self.type:
            return self.value != other.value  # their cast_value: the values themselves
        return original(self, other)

    not_equal.fast = True  # type: ignore[attr-defined]
    return not_equal


# --- Sizing and copying items ---------------------------------------------------------------


def fast_size(original: Callable[[DynamoType], int]) -> Callable[[DynamoType], int]:
    """``DynamoType.size`` (asked twice of every attribute of every item a query returns)
    going straight to moto's own rule for a string or a number, past its checks for the
    other types."""

    def size(self: DynamoType) -> int:
        if self.type == "S":
            return bytesize(self.value)
        if self.type == "N":
            return number_size(str(self.value))
        return original(self)

    size.fast = True  # type: ignore[attr-defined]
    return size


def _copied(value: DynamoType, memo: dict[int, Any]) -> DynamoType:
    """moto's deepcopy of one value: a list, map or set through it; any other value is
    shared by the copy, as moto shares it, without copy.deepcopy's dispatch around it."""
    if value.type in NESTED_TAGS:
        return copy.deepcopy(value, memo)
    done = memo.get(id(value))
    if done is None:
        done = memo[id(value)] = DynamoType.__new__(DynamoType)
        done.type, done.value = value.type, value.value
    return done


def copy_item(self: Item, memo: dict[int, Any]) -> Item:
    """``Item.__deepcopy__`` (every item a query or a scan returns is copied first) with
    its values copied by ``_copied``: the same copy, in half the time."""
    done = memo.get(id(self))
    if done is not None:
        return done
    result: Any = Item.__new__(Item)
    memo[id(self)] = result
    result.hash_key = _copied(self.hash_key, memo)
    result.range_key = None if self.range_key is None else _copied(self.range_key, memo)
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)  # unchecked, as moto fills its copy
    dict.update(attrs, {key: _copied(value, memo) for key, value in self.attrs.items()})
    result.attrs = attrs
    return result


# --- Sorting a table --------------------------------------------------------------------------


def table_order(item: Any) -> Any:
    """moto's sort key for ``all_items``, with each key converted once: its keys compare
    by ``cast_value`` (a key attribute has one type), so the order is the same."""
    if item.range_key:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return item.hash_key.cast_value


def _same_objects(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(map(operator.is_, a, b))


def all_items(self: Table) -> list[Any]:
    """``Table.all_items`` as moto writes it, sorted by ``table_order``. The last order is
    reused while the table holds the very same item objects: moto refuses to update a key,
    and a put or a delete replaces or removes the object, so the keys are the same too."""
    items: list[Any] = []
    for hash_set in self.items.values():
        if self.range_key_attr:
            items.extend(hash_set.values())
        else:
            items.append(hash_set)
    last = self.__dict__.get(SORTED)
    if last is None or not _same_objects(last[0], items):
        last = (items, sorted(items, key=table_order))
        setattr(self, SORTED, last)
    return list(last[1])


def listed_once(original: Callable[[], Iterable[str]]) -> Callable[[], tuple[str, ...]]:
    """``list_of_moto_modules``, which lists and stats moto's package directory (1 ms) for
    every request the server routes, read once: the installed package does not change."""
    listing = tuple(original())

    def list_of_moto_modules() -> tuple[str, ...]:
        return listing

    list_of_moto_modules.fast = True  # type: ignore[attr-defined]
    return list_of_moto_modules


def speed_up() -> None:
    """Install the replacements (once): moto's results stay the same, only sooner."""
    json_serializer = serialize.BaseJSONSerializer
    current = json_serializer._serialize_type_structure
    if not getattr(current, "fast", False):
        json_serializer._serialize_type_structure = fast_attribute_values(current)  # type: ignore[method-assign]
    cast = DynamoType.__dict__["cast_value"]
    if not getattr(cast.fget, "fast", False):
        DynamoType.cast_value = fast_cast_value(cast)  # type: ignore[method-assign,assignment]
    if not getattr(DynamoType.__ne__, "fast", False):
        DynamoType.__ne__ = fast_not_equal(DynamoType.__ne__)  # type: ignore[method-assign]
    if not getattr(DynamoType.size, "fast", False):
        DynamoType.size = fast_size(DynamoType.size)  # type: ignore[method-assign,assignment]
    Item.__deepcopy__ = copy_item  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    if not getattr(backends.list_of_moto_modules, "fast", False):
        backends.list_of_moto_modules = listed_once(backends.list_of_moto_modules)


def main(host: str, port: int) -> None:
    # moto runs a Lambda function in a container, pulling its image first: with a daemon at
    # DOCKER_HOST (CI's), from registries that do not answer here, for minutes, under the
    # one lock. An address where no daemon is makes each invocation fail at once instead.
    os.environ["DOCKER_HOST"] = NO_DOCKER
    speed_up()
    run_simple(
        host,
        port,
        OneAtATime(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=QuietRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
