"""Allium: the API over WebSocket and the data streams (https://docs.allium.so/datastreams/websockets)."""

from __future__ import annotations

from wsclients.venues.allium.filters import (
    COMPARISON_OPERATORS,
    COMPOUND_OPS,
    OPERATORS,
    Compound,
    Condition,
    F,
    Filter,
    filter_json,
    parse_filter,
)

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
