"""The Allium filter builder: exactly the documented JSON, and clear errors for bad filters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsclients.testing.allium_match import check_filter, matches
from wsclients.venues.allium import (
    OPERATORS,
    Compound,
    Condition,
    F,
    filter_json,
    parse_filter,
)

WEI = "1000000000000000000"


def test_docs_compound_example_is_reproduced_exactly() -> None:
    """The websockets page's large-transaction filter comes out byte for byte."""
    built = (F("blockchain") == "ethereum") & (F("value") > WEI)
    assert built.as_dict() == {
        "op": "AND",
        "conditions": [
            {"field": "blockchain", "operator": "=", "value": "ethereum"},
            {"field": "value", "operator": ">", "value": WEI},
        ],
    }
    assert built.to_json() == (
        '{"op":"AND","conditions":[{"field":"blockchain","operator":"=","value":"ethereum"},'
        '{"field":"value","operator":">","value":"1000000000000000000"}]}'
    )


def test_docs_exists_example_is_reproduced_exactly() -> None:
    """``F(x).exists()`` is the page's ``{"operator": "exists", "value": true}`` leaf."""
    assert F("to_address").exists().as_dict() == {
        "field": "to_address", "operator": "exists", "value": True,
    }
    assert F("to_address").exists(False).as_dict()["value"] is False


@pytest.mark.parametrize(
    ("built", "operator", "value"),
    [
        (F("x") == "a", "=", "a"),
        (F("x") != "0", "!=", "0"),
        (F("x") > 18000000, ">", 18000000),
        (F("x") >= 18, ">=", 18),
        (F("x") < "5", "<", "5"),
        (F("x") <= 2.5, "<=", 2.5),
        (F("x").isin(["0x12", "0xab"]), "in", ["0x12", "0xab"]),
        ("100" < F("x"), ">", "100"),  # noqa: SIM300 - reflected: Python asks F.__gt__
    ],
)
def test_each_operator_builds_its_leaf(built: Condition, operator: str, value: Any) -> None:
    """Every documented operator has its spelling, and the value goes out as given."""
    assert built.as_dict() == {"field": "x", "operator": operator, "value": value}


def test_integers_past_64_bits_are_sent_exactly() -> None:
    """A wei amount given as a big int goes out as that exact JSON number."""
    assert (F("value") > 10**22).to_json() == (
        '{"field":"value","operator":">","value":10000000000000000000000}')


def test_nested_and_is_flattened_and_or_is_kept_apart() -> None:
    """``a & b & c`` is one AND of three; an OR inside an AND stays nested."""
    a, b, c = F("a") == 1, F("b") == 2, F("c") == 3
    assert (a & b & c).as_dict()["conditions"] == [a.as_dict(), b.as_dict(), c.as_dict()]
    mixed = a & (b | c)
    assert mixed.as_dict() == {"op": "AND", "conditions": [
        a.as_dict(), {"op": "OR", "conditions": [b.as_dict(), c.as_dict()]}]}


def test_filters_are_frozen_and_hashable() -> None:
    """Conditions and compounds are immutable values."""
    condition = F("x").isin([1, 2])
    with pytest.raises(AttributeError):
        condition.value = (3,)  # type: ignore[misc]
    assert hash(condition) == hash(F("x").isin((1, 2)))
    assert Condition("x", "in", [1, 2]) == condition
    assert {condition & (F("y") == 1)} == {condition & (F("y") == 1)}


def test_python_and_or_chained_comparisons_are_refused() -> None:
    """``and`` / ``or`` would drop a condition silently, so a filter has no truth value."""
    with pytest.raises(TypeError, match="&"):
        _ = (F("a") == 1) and (F("b") == 2)
    with pytest.raises(TypeError):
        _ = "1" < F("v") < "9"


def test_as_dict_returns_fresh_objects() -> None:
    """Changing what ``as_dict`` returned does not change the filter."""
    built = F("x").isin(["a"]) & (F("y") == 1)
    first = built.as_dict()
    first["conditions"][0]["value"].append("b")
    assert built.as_dict()["conditions"][0]["value"] == ["a"]


def test_filter_json_accepts_builder_and_dict() -> None:
    """A builder and the equivalent plain dict give the same JSON object."""
    built = F("to_address").exists() & (F("blockchain") == "ethereum")
    assert filter_json(built) == filter_json(built.as_dict()) == built.as_dict()
    plain = {"field": "status", "operator": "=", "value": "active"}
    copy = filter_json(plain)
    assert copy == plain and copy is not plain


@pytest.mark.parametrize(
    ("spec", "error", "fragment"),
    [
        (["x"], TypeError, "filter: expected a filter object"),
        ({"field": "x", "operator": "IN", "value": [1]}, ValueError, "did you mean 'in'"),
        ({"field": "x", "operator": "~", "value": 1}, ValueError, "filter.operator: unknown '~'"),
        ({"field": "x", "operator": "="}, ValueError, "missing key(s) ['value']"),
        ({"field": "x", "operator": "=", "value": 1, "type": "t"}, ValueError, "['type']"),
        ({"field": "", "operator": "=", "value": 1}, ValueError, "filter.field"),
        ({"field": 3, "operator": "=", "value": 1}, TypeError, "filter.field"),
        ({"field": "x", "operator": "in", "value": "ab"}, TypeError, "'in' takes a list"),
        ({"field": "x", "operator": "in", "value": [{"a": 1}]}, TypeError, "value[0]"),
        ({"field": "x", "operator": "exists", "value": "yes"}, TypeError, "exists"),
        ({"field": "x", "operator": ">", "value": True}, TypeError, "'>' compares"),
        ({"field": "x", "operator": "=", "value": float("nan")}, ValueError, "JSON"),
        ({"op": "and", "conditions": [{"field": "x", "operator": "=", "value": 1}]},
         ValueError, "did you mean 'AND'"),
        ({"op": "AND", "conditions": []}, ValueError, "at least one"),
        ({"op": "AND", "conditions": {"field": "x"}}, TypeError, "expected a list"),
        ({"op": "OR"}, ValueError, "missing key(s) ['conditions']"),
        ({"op": "OR", "conditions": [{"field": "x", "operator": "=", "value": 1},
                                     {"field": "y", "operator": "=>", "value": 1}]},
         ValueError, "filter.conditions[1].operator"),
        ({"op": "AND", "conditions": [{"op": "OR", "conditions": [3]}]},
         TypeError, "filter.conditions[0].conditions[0]"),
    ],
)
def test_bad_dicts_name_the_bad_part(spec: Any, error: type[Exception], fragment: str) -> None:
    """Each malformed filter raises the right error with the offending part in the message."""
    with pytest.raises(error) as caught:
        filter_json(spec)
    assert fragment in str(caught.value)


def test_builder_checks_values_too() -> None:
    """Building a condition with a bad operator or value fails at once."""
    with pytest.raises(ValueError, match="operator"):
        Condition("x", "like", "a")
    with pytest.raises(TypeError, match="list"):
        F("x").isin("abc")
    with pytest.raises(TypeError):
        _ = F("x") > None  # type: ignore[operator]
    with pytest.raises(ValueError, match="op"):
        Compound("XOR", [F("x") == 1])
    with pytest.raises(TypeError, match=r"conditions\[0\]"):
        Compound("AND", [{"field": "x"}])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        F("")


# Property tests -------------------------------------------------------------------------------

FIELDS = st.sampled_from(["value", "blockchain", "to_address", "payload.coin", "a.b.c"])
NUMBER_STRINGS = st.integers(-10**20, 10**20).map(str)
SCALARS = st.one_of(
    st.text(max_size=8), NUMBER_STRINGS, st.integers(-10**20, 10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
)
ORDERABLE = st.one_of(NUMBER_STRINGS, st.integers(-10**6, 10**6), st.text(max_size=4))


@st.composite
def leaves(draw: st.DrawFn) -> Condition:
    field = F(draw(FIELDS))
    kind = draw(st.sampled_from(OPERATORS))
    if kind == "exists":
        return field.exists(draw(st.booleans()))
    if kind == "in":
        return field.isin(draw(st.lists(SCALARS, max_size=4)))
    if kind in ("=", "!="):
        value = draw(SCALARS)
        return (field == value) if kind == "=" else (field != value)
    return Condition(field.name, kind, draw(ORDERABLE))


filters = st.recursive(
    leaves(),
    lambda children: st.tuples(st.sampled_from(["AND", "OR"]),
                               st.lists(children, min_size=1, max_size=3)).map(
        lambda pair: Compound(pair[0], pair[1])),
    max_leaves=8,
)

RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "value": st.one_of(NUMBER_STRINGS, st.none()),
        "blockchain": st.sampled_from(["ethereum", "base"]),
        "to_address": st.one_of(st.none(), st.just("0xab")),
        "payload": st.fixed_dictionaries({"coin": st.sampled_from(["BTC", "ETH"])}),
    },
)


@given(filters)
def test_round_trip_through_dict_and_json(built: Any) -> None:
    """parse(as_dict) gives the same filter back; to_json is the same object as JSON."""
    assert parse_filter(built.as_dict()) == built
    assert json.loads(built.to_json()) == built.as_dict()
    assert filter_json(built.as_dict()) == built.as_dict()


@given(filters)
def test_every_built_filter_passes_the_fakes_independent_check(built: Any) -> None:
    """What the builder emits is grammar the fake server accepts."""
    check_filter(built.as_dict())


@given(st.lists(filters, min_size=2, max_size=4), RECORDS)
def test_flattening_keeps_meaning(parts: list[Any], record: dict[str, Any]) -> None:
    """``a & b & c`` (flattened) matches exactly when the nested AND would; same for OR."""
    for op, combine in (("AND", lambda x, y: x & y), ("OR", lambda x, y: x | y)):
        flat = parts[0]
        nested = parts[0].as_dict()
        for part in parts[1:]:
            flat = combine(flat, part)
            nested = {"op": op, "conditions": [nested, part.as_dict()]}
        assert matches(flat.as_dict(), record) == matches(nested, record)
