"""Allium: the API over WebSocket and the data streams (https://docs.allium.so/datastreams/websockets)."""

from __future__ import annotations

from wsclients.venues.allium.api_client import AlliumApiClient
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
from wsclients.venues.allium.record_replay import recording
from wsclients.venues.allium.stream_client import AlliumStreamClient

__all__ = [
    "AlliumApiClient",
    "AlliumStreamClient",
    "COMPARISON_OPERATORS",
    "COMPOUND_OPS",
    "OPERATORS",
    "Compound",
    "Condition",
    "F",
    "Filter",
    "filter_json",
    "parse_filter",
    "recording",
]
