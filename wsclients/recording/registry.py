"""Venue name → how to record and rebuild that venue's protocols.

A recording stores the wire and, for every socket, a *description* of what was live on it
(its subscriptions). To replay it, the venue's own sans-I/O protocol class is built again
from that description and fed the recorded frames. Only the venue knows how to describe and
rebuild its protocols, so each venue module provides one function::

    def recording() -> VenueRecording:
        return VenueRecording(venue="myvenue", describe=..., build=...)

and the registry finds it lazily, by the venue name a client (``Client.venue``) and its
recordings carry: ``wsclients.venues.<venue>`` (a module or a package) is imported and its
``recording()`` called, the first time a recording of that venue is made or replayed. A venue
that lives elsewhere (a plug-in, a venue whose name differs from its module) says where with
``register_venue("myvenue", "mypackage.myvenue")``.

What each field is for:

- ``describe(protocol)``: recording side, under the connection's lock — a JSON-able value
  saying what is live on this protocol now (Hyperliquid: its subscription objects; Vega: the
  stream or book of that socket; Tradevest: the markets). Stored at every socket open and
  again whenever a command changes it.
- ``build(description, context)``: replay side — a fresh protocol of the class the client
  uses, set up as the description says (subscriptions registered, not yet open).
- ``resubscribe(protocol, description)``: the live set changed on an open socket (a
  ``subscribe`` while connected): bring the protocol's registry to the recorded set, so acks
  and deduplication behave as they did live. None when the set cannot change mid-socket.
- ``client_config(client)``: recording side, once, stored in the header — what the client
  knew up front that its protocols consult (Vega: the market decimals it was given).
- ``encode_result(job, result)`` / ``decode_result(job, value, context)``: blocking-work
  answers (Vega's REST snapshots and decimals) as JSON and back, so a replayed protocol gets
  the very answers the live one got.
- ``private_jobs``: kinds of blocking work whose answers are secrets (Centrifugo's tokens):
  their results are written only as ``encode_result`` gives them (it must redact them) and
  their failures by class alone, never by their text.
- ``learned(context, value)``: replay side — what the client recorded with
  ``Client._record_learned(value)`` when it learnt something every protocol consults outside
  any frame (Vega: decimals fetched for one socket are seen by all), at the same point.
"""

from __future__ import annotations

import importlib
import re
import threading
from typing import Any, Callable, Optional

import attrs

from wsclients.core.protocol import Job, VenueProtocol
from wsclients.errors import UnknownVenue

__all__ = ["ReplayContext", "VenueRecording", "register_venue", "venue_recording"]

# Venue names come from recording files: only plain identifiers ever reach importlib.
_VENUE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@attrs.define(eq=False)
class ReplayContext:
    """What a venue's replay functions share during one replay."""

    config: Any = None
    """``client_config`` as recorded in the header."""
    state: dict[str, Any] = attrs.field(factory=dict)
    """Scratch space for the venue (e.g. the decimals learnt from recorded answers)."""


def _nothing(client: Any) -> Any:
    return None


def _same(job: Job, result: Any) -> Any:
    return result


def _same_decoded(job: Job, value: Any, context: ReplayContext) -> Any:
    return value


@attrs.frozen
class VenueRecording:
    """How one venue's protocols are recorded and rebuilt (see the module docstring)."""

    venue: str
    describe: Callable[[Any], Any]
    build: Callable[[Any, ReplayContext], VenueProtocol]
    resubscribe: Optional[Callable[[Any, Any], None]] = None
    client_config: Callable[[Any], Any] = _nothing
    encode_result: Callable[[Job, Any], Any] = _same
    decode_result: Callable[[Job, Any, ReplayContext], Any] = _same_decoded
    learned: Optional[Callable[[ReplayContext, Any], None]] = None
    private_jobs: frozenset[str] = frozenset()


_lock = threading.Lock()  # guards the two dicts below
_modules: dict[str, str] = {}
_loaded: dict[str, VenueRecording] = {}


def register_venue(venue: str, module: str) -> None:
    """Say that ``module`` (importable, with a ``recording()`` function) serves ``venue``."""
    if not _VENUE_NAME.fullmatch(venue):
        raise ValueError(f"venue names are lower-case identifiers; got {venue!r}")
    with _lock:
        _modules[venue] = module
        _loaded.pop(venue, None)


def venue_recording(venue: str) -> VenueRecording:
    """The venue's recording support, imported on first use.

    Raises:
        UnknownVenue: the name is not a venue name, or its module has no ``recording()``.
    """
    with _lock:
        known = _loaded.get(venue)
        module_name = _modules.get(venue)
    if known is not None:
        return known
    if not isinstance(venue, str) or not _VENUE_NAME.fullmatch(venue):
        raise UnknownVenue(str(venue), "not a venue name")
    module_name = module_name or f"wsclients.venues.{venue}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise UnknownVenue(venue, f"no module {module_name}") from exc
        raise
    factory = getattr(module, "recording", None)
    if not callable(factory):
        raise UnknownVenue(venue, f"{module_name} has no recording() function")
    support = factory()
    if not isinstance(support, VenueRecording):
        raise UnknownVenue(venue, f"{module_name}.recording() returned {type(support).__name__}")
    with _lock:
        _loaded[venue] = support
    return support
