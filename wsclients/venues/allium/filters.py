"""Allium data-stream filters: a small builder that writes exactly the documented JSON.

A filter is sent with ``{"action": "setFilter", "data": <filter>}`` before (or after) ``start``
(https://docs.allium.so/datastreams/websockets). The grammar
(https://docs.allium.so/datastreams/filters, https://docs.allium.so/api/datastreams/filters/create-filters.md):

- a leaf ``{"field": <dot path>, "operator": <op>, "value": <value>}`` where ``op`` is one of
  ``=  !=  >  >=  <  <=``, ``in`` (``value`` is an array) or ``exists`` (the docs send
  ``"value": true``);
- a compound ``{"op": "AND" | "OR", "conditions": [<filter>, ...]}``.

No NOT operator is documented, so none is offered. Values are sent exactly as given: the venue
compares wei amounts written as strings (``F("value") > "1000000000000000000"``), so do not
convert them to numbers. Build with ``F``::

    big = (F("blockchain") == "ethereum") & (F("value") > "1000000000000000000")
    either = F("to_address").exists() | F("token_address").isin(["0x12…", "0xab…"])
    message = {"action": "setFilter", "data": filter_json(big)}

``filter_json`` also accepts a plain dict and checks it, so a filter typed by hand fails here,
with the offending part named, rather than silently on the venue.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn, Union

import attrs

__all__ = [
    "COMPARISON_OPERATORS",
    "COMPOUND_OPS",
    "OPERATORS",
    "Compound",
    "Condition",
    "F",
    "Filter",
    "filter_json",
    "parse_filter",
]

COMPARISON_OPERATORS: tuple[str, ...] = ("=", "!=", ">", ">=", "<", "<=")
"""The documented comparison operators."""

OPERATORS: tuple[str, ...] = (*COMPARISON_OPERATORS, "in", "exists")
"""Every documented leaf operator (case-sensitive, as the docs write them)."""

COMPOUND_OPS: tuple[str, ...] = ("AND", "OR")
"""The documented compound ``op`` values."""

_ORDERING = frozenset((">", ">=", "<", "<="))
_LEAF_KEYS = frozenset(("field", "operator", "value"))
_COMPOUND_KEYS = frozenset(("op", "conditions"))

Scalar = Union[str, int, float, bool, None]
"""A JSON scalar, the type of a leaf's ``value`` (``in`` takes a tuple of them)."""


class _Combinable:
    """``&`` / ``|`` for filters, and a guard against ``and`` / ``or``."""

    __slots__ = ()

    def __and__(self, other: Filter) -> Compound:
        return _combine("AND", self, other)

    def __or__(self, other: Filter) -> Compound:
        return _combine("OR", self, other)

    def __bool__(self) -> NoReturn:
        # `a and b` / `a or b` / `x < F("v") < y` would silently keep one side: refuse.
        raise TypeError("a filter has no truth value; combine filters with & and |")


def _to_tuple(items: Iterable[Filter]) -> tuple[Filter, ...]:
    return tuple(items)


def _dumps(value: Any) -> str:
    # The standard library, not core.codec: orjson refuses integers past 64 bits, and a wei
    # amount given as an int (10**20) is a valid filter value.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _freeze(value: Any) -> Any:
    # Lists become tuples so that a condition stays immutable and hashable.
    return tuple(value) if isinstance(value, list) else value


@attrs.frozen(eq=True)
class Condition(_Combinable):
    """One leaf condition: ``field operator value``. Checked when built.

    Raises:
        ValueError: unknown operator, empty field, a number that JSON cannot carry.
        TypeError: a field that is not ``str`` or a value of the wrong type for the operator.
    """

    field: str
    """Dot path into the record (``"transaction.from_address"``)."""
    operator: str
    """One of ``OPERATORS``."""
    value: Any = attrs.field(converter=_freeze)
    """A JSON scalar; a tuple of scalars for ``in`` (a list is kept as a tuple); a bool for
    ``exists``."""

    def __attrs_post_init__(self) -> None:
        _check_leaf(self.field, self.operator, self.value, "filter")

    def as_dict(self) -> dict[str, Any]:
        """The venue's JSON object (a fresh dict; a tuple value becomes a list)."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "operator": self.operator, "value": value}

    def to_json(self) -> str:
        """Compact JSON text of ``as_dict()``."""
        return _dumps(self.as_dict())


@attrs.frozen(eq=True)
class Compound(_Combinable):
    """``op`` (``"AND"`` or ``"OR"``) over one or more conditions, which may nest.

    Raises:
        ValueError: unknown ``op`` or no conditions.
        TypeError: a condition that is not a ``Condition`` or ``Compound``.
    """

    op: str
    """``"AND"`` or ``"OR"``."""
    conditions: tuple[Filter, ...] = attrs.field(converter=_to_tuple)
    """The operands, in the order they are sent."""

    def __attrs_post_init__(self) -> None:
        if self.op not in COMPOUND_OPS:
            raise ValueError(f"filter.op: unknown {self.op!r}; expected 'AND' or 'OR'")
        if not self.conditions:
            raise ValueError("filter.conditions: a compound needs at least one condition")
        for index, condition in enumerate(self.conditions):
            if not isinstance(condition, (Condition, Compound)):
                raise TypeError(
                    f"filter.conditions[{index}]: expected a Condition or Compound, "
                    f"got {type(condition).__name__}"
                )

    def as_dict(self) -> dict[str, Any]:
        """The venue's JSON object (fresh dicts and lists all the way down)."""
        return {"op": self.op, "conditions": [c.as_dict() for c in self.conditions]}

    def to_json(self) -> str:
        """Compact JSON text of ``as_dict()``."""
        return _dumps(self.as_dict())


Filter = Union[Condition, Compound]
"""Any filter the builder makes."""


class F:
    """A field to filter on; comparisons make ``Condition`` objects.

    ``F("value") > "1000"`` is ``{"field": "value", "operator": ">", "value": "1000"}``.
    Because ``==`` builds a condition, an ``F`` is not hashable and never equal to anything.
    """

    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"F(): the field is a str, got {type(name).__name__}")
        if not name:
            raise ValueError("F(): the field must not be empty")
        self.name = name

    def __repr__(self) -> str:
        return f"F({self.name!r})"

    def __eq__(self, value: Scalar) -> Condition:  # type: ignore[override]
        return Condition(self.name, "=", value)

    def __ne__(self, value: Scalar) -> Condition:  # type: ignore[override]
        return Condition(self.name, "!=", value)

    def __gt__(self, value: str | int | float) -> Condition:
        return Condition(self.name, ">", value)

    def __ge__(self, value: str | int | float) -> Condition:
        return Condition(self.name, ">=", value)

    def __lt__(self, value: str | int | float) -> Condition:
        return Condition(self.name, "<", value)

    def __le__(self, value: str | int | float) -> Condition:
        return Condition(self.name, "<=", value)

    def isin(self, values: Iterable[Scalar]) -> Condition:
        """``field in values`` (sent as a JSON array, in the given order)."""
        if isinstance(values, (str, bytes, Mapping)):
            raise TypeError(f"F({self.name!r}).isin(): expected a list of values, got "
                            f"{type(values).__name__}")
        return Condition(self.name, "in", tuple(values))

    def exists(self, present: bool = True) -> Condition:
        """The field is present (``present=False``: absent).

        The docs show ``"value": true`` only; what ``false`` does on the venue is not
        documented.
        """
        return Condition(self.name, "exists", present)


def filter_json(spec: Filter | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object to send as ``setFilter``'s ``data``, from a builder or a plain dict.

    A dict is checked against the documented grammar and returned as a fresh copy with the
    same content (values are never converted).

    Raises:
        TypeError: ``spec`` or a part of it has the wrong type; the message names the part.
        ValueError: an unknown key or operator, a missing key, an empty compound.
    """
    if isinstance(spec, (Condition, Compound)):
        return spec.as_dict()
    return parse_filter(spec).as_dict()


def parse_filter(spec: Mapping[str, Any] | Filter) -> Filter:
    """Read a filter dict (as sent or received) into ``Condition`` / ``Compound`` objects.

    ``parse_filter(f.as_dict()) == f`` for every builder filter ``f``.

    Raises:
        TypeError, ValueError: as ``filter_json``; messages name the part, e.g.
            ``filter.conditions[1].operator``.
    """
    if isinstance(spec, (Condition, Compound)):
        return spec
    return _parse(spec, "filter")


def _parse(spec: Any, where: str) -> Filter:
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where}: expected a filter object (dict), got {type(spec).__name__}")
    keys = set(spec)
    if "op" in keys or "conditions" in keys:
        _check_keys(keys, _COMPOUND_KEYS, where)
        op = spec["op"]
        if not isinstance(op, str):
            raise TypeError(f"{where}.op: expected 'AND' or 'OR', got {type(op).__name__}")
        if op not in COMPOUND_OPS:
            hint = f" (did you mean {op.upper()!r}?)" if op.upper() in COMPOUND_OPS else ""
            raise ValueError(f"{where}.op: unknown {op!r}; expected 'AND' or 'OR'{hint}")
        conditions = spec["conditions"]
        if isinstance(conditions, (str, bytes, Mapping)) or not isinstance(conditions, Sequence):
            raise TypeError(f"{where}.conditions: expected a list, got "
                            f"{type(conditions).__name__}")
        if not conditions:
            raise ValueError(f"{where}.conditions: a compound needs at least one condition")
        parts = [_parse(item, f"{where}.conditions[{i}]") for i, item in enumerate(conditions)]
        return Compound(op, parts)
    _check_keys(keys, _LEAF_KEYS, where)
    field, operator, value = spec["field"], spec["operator"], spec["value"]
    _check_leaf(field, operator, value, where)
    return Condition(field, operator, value)


def _check_keys(keys: set[Any], expected: frozenset[str], where: str) -> None:
    missing = sorted(expected - keys)
    extra = sorted(str(key) for key in keys - expected)
    if extra:
        raise ValueError(f"{where}: unknown key(s) {extra}; a "
                         f"{'compound' if 'op' in expected else 'condition'} has exactly "
                         f"{sorted(expected)}")
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}")


def _check_leaf(field: Any, operator: Any, value: Any, where: str) -> None:
    if not isinstance(field, str):
        raise TypeError(f"{where}.field: expected a str, got {type(field).__name__}")
    if not field:
        raise ValueError(f"{where}.field: must not be empty")
    if not isinstance(operator, str):
        raise TypeError(f"{where}.operator: expected a str, got {type(operator).__name__}")
    if operator not in OPERATORS:
        hint = f" (did you mean {operator.lower()!r}?)" if operator.lower() in OPERATORS else ""
        raise ValueError(f"{where}.operator: unknown {operator!r}; expected one of "
                         f"{list(OPERATORS)}{hint}")
    if operator == "exists":
        if not isinstance(value, bool):
            raise TypeError(f"{where}.value: 'exists' takes true or false, got {value!r}")
    elif operator == "in":
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{where}.value: 'in' takes a list, got {type(value).__name__}")
        for index, item in enumerate(value):
            _check_scalar(item, f"{where}.value[{index}]")
    elif operator in _ORDERING:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(f"{where}.value: {operator!r} compares a number or a string, "
                            f"got {type(value).__name__}")
        _check_scalar(value, f"{where}.value")
    else:
        _check_scalar(value, f"{where}.value")


def _check_scalar(value: Any, where: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} cannot be sent as JSON")
        return
    raise TypeError(f"{where}: expected a str, number, bool or null, got {type(value).__name__}")


def _combine(op: str, left: Any, right: Any) -> Compound:
    if not isinstance(right, (Condition, Compound)):
        return NotImplemented  # type: ignore[no-any-return]
    # AND and OR are associative: (a & b) & c is sent as one AND of three.
    parts: list[Filter] = []
    for side in (left, right):
        if isinstance(side, Compound) and side.op == op:
            parts.extend(side.conditions)
        else:
            parts.append(side)
    return Compound(op, parts)
