"""Record the wire, replay it through the same parsers.

- ``client.record("btc.jsonl.gz")`` (or ``record=`` on any client) writes every received
  frame, each socket's opens/closes/statuses/subscriptions and the answers to blocking work
  to a JSON-lines file (``fileformat.py``), on a writer thread of its own (``recorder.py``).
- ``wsclients.replay(path, speed=None)`` gives a client with the live API whose events are
  made by the venue's own protocol from that file (``replay.py``).
- Which protocol to build for a venue is found in a small registry that venues register into
  (``registry.py``).
"""

from __future__ import annotations

from wsclients.recording.fileformat import read_header, read_records
from wsclients.recording.recorder import Recorder
from wsclients.recording.registry import (
    ReplayContext,
    VenueRecording,
    register_venue,
    venue_recording,
)
from wsclients.recording.replay import ReplayClient, replay

__all__ = [
    "Recorder",
    "ReplayClient",
    "ReplayContext",
    "VenueRecording",
    "read_header",
    "read_records",
    "register_venue",
    "replay",
    "venue_recording",
]
