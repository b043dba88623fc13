"""How FakeAllium evaluates a ``setFilter`` filter against a record, on the server side.

Written apart from the client's builder (``wsclients.venues.allium.filters``) on purpose: the
fake checks what a client sends instead of trusting the client's own code.

Documented (https://docs.allium.so/datastreams/filters and the websockets page): leaves
``{"field", "operator", "value"}`` with ``= != > >= < <=``, ``in`` (an array), ``exists``;
compounds ``{"op": "AND"|"OR", "conditions": [...]}``; fields are dot paths into the record.

Assumed (the venue does not say; each choice is the plain reading of its examples):

- numbers written as strings are compared as numbers: the docs filter wei ``value`` strings
  with ``"value": "1000000000000000000"``, so when both sides read as decimal numbers (JSON
  numbers or strings such as ``"12"``, ``"-0.5"``, ``"1e18"``) they compare as ``Decimal``;
  otherwise two strings compare as strings (case-sensitive; ``"0x…"`` is a string), and
  ``=``/``!=`` compare other JSON values (bools, null) by equality; an ordering between a
  string and a non-number is false;
- a field that is missing or ``null`` makes every comparison and ``in`` false, ``!=``
  included; only ``exists`` looks at presence: ``true`` matches a present non-null field,
  ``false`` its absence;
- compounds nest to any depth; operators and ``op`` are case-sensitive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["check_filter", "lookup", "matches"]

_MISSING = object()
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")
_COMPARISONS = frozenset(("=", "!=", ">", ">=", "<", "<="))
_OPERATORS = _COMPARISONS | {"in", "exists"}


def check_filter(spec: Any, where: str = "data") -> None:
    """Raise ``ValueError`` (naming the part) unless ``spec`` is a filter of the grammar."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: a filter is an object")
    if "op" in spec or "conditions" in spec:
        if set(spec) != {"op", "conditions"}:
            raise ValueError(f"{where}: a compound has exactly 'op' and 'conditions'")
        if spec["op"] not in ("AND", "OR"):
            raise ValueError(f"{where}.op: must be AND or OR")
        conditions = spec["conditions"]
        if not isinstance(conditions, list) or not conditions:
            raise ValueError(f"{where}.conditions: must be a non-empty array")
        for index, condition in enumerate(conditions):
            check_filter(condition, f"{where}.conditions[{index}]")
        return
    if set(spec) != {"field", "operator", "value"}:
        raise ValueError(f"{where}: a condition has exactly 'field', 'operator' and 'value'")
    if not isinstance(spec["field"], str) or not spec["field"]:
        raise ValueError(f"{where}.field: must be a non-empty string")
    operator, value = spec["operator"], spec["value"]
    if operator not in _OPERATORS:
        raise ValueError(f"{where}.operator: unknown operator {operator!r}")
    if operator == "in" and not isinstance(value, list):
        raise ValueError(f"{where}.value: 'in' needs an array")
    if operator == "exists" and not isinstance(value, bool):
        raise ValueError(f"{where}.value: 'exists' needs true or false")
    if operator in _COMPARISONS and isinstance(value, (list, dict)):
        raise ValueError(f"{where}.value: {operator!r} needs a single value")


def lookup(record: Any, path: str) -> Any:
    """The value at dot ``path`` in ``record``; ``None`` when missing."""
    value = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part, _MISSING)
        if value is _MISSING:
            return None
    return value


def matches(spec: Mapping[str, Any] | None, record: Any) -> bool:
    """Whether ``record`` passes the filter ``spec`` (``None``: no filter, everything passes).

    ``spec`` must have passed ``check_filter``.
    """
    if spec is None:
        return True
    if "op" in spec:
        results = (matches(condition, record) for condition in spec["conditions"])
        return all(results) if spec["op"] == "AND" else any(results)
    actual = lookup(record, spec["field"])
    operator, wanted = spec["operator"], spec["value"]
    if operator == "exists":
        return (actual is not None) is bool(wanted)
    if actual is None:
        return False
    if operator == "in":
        return any(_compare(actual, "=", item) for item in wanted)
    return _compare(actual, operator, wanted)


def _compare(actual: Any, operator: str, wanted: Any) -> bool:
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        a: Any = left
        b: Any = right
    elif isinstance(actual, str) and isinstance(wanted, str):
        a, b = actual, wanted
    elif operator in ("=", "!="):
        same = _plain(actual) == _plain(wanted)
        return same if operator == "=" else not same
    else:
        return False
    if operator == "=":
        return bool(a == b)
    if operator == "!=":
        return bool(a != b)
    if operator == ">":
        return bool(a > b)
    if operator == ">=":
        return bool(a >= b)
    if operator == "<":
        return bool(a < b)
    return bool(a <= b)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern only admits numbers
            return None
    return None


def _plain(value: Any) -> Any:
    # Equality of other JSON values; True must not equal 1 here.
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ("list", tuple(_plain(item) for item in value))
    return value
