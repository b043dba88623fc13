"""One Vega stream frame: a JSON object with ``result`` or an error status, in either of the
node's two error shapes (docs/venues/vega.rst#vega-envelopes, #vega-errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

import attrs

from wsclients.core import codec
from wsclients.errors import (
    ProtocolViolation,
)
from wsclients.venues.vega.streams import _FATAL_DETAIL_CODES, _FATAL_GRPC_CODES

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------------------
# Frames


def _decode_frame(data: Union[str, bytes]) -> dict[str, Any]:
    """One frame is one JSON object (docs/venues/vega.rst#vega-framing)."""
    try:
        obj = codec.loads(data)
    except ValueError as exc:
        raise ProtocolViolation("frame is not valid JSON", raw=data) from exc
    if not isinstance(obj, dict):
        raise ProtocolViolation("frame is not a JSON object", raw=data)
    return obj


def _error_status(obj: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The ``google.rpc.Status`` in a frame, in either shape (docs/venues/vega.rst#vega-envelopes):
    ``{"error":{…}}`` or the bare ``{"code":…,"message":…}`` sent before the first message."""
    error = obj.get("error")
    if isinstance(error, Mapping):
        return error
    if "result" not in obj and "code" in obj and "message" in obj:
        return obj
    return None


@attrs.frozen
class StreamError:
    """An error status from the node, read out of its frame."""

    code: Optional[int]
    message: str
    detail_codes: tuple[int, ...]

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> StreamError:
        code = status.get("code")
        parts = [str(status.get("message") or "error")]
        detail_codes: list[int] = []
        details = status.get("details")
        for detail in details if isinstance(details, list) else ():
            if not isinstance(detail, Mapping):
                continue
            if isinstance(detail.get("code"), int):
                detail_codes.append(detail["code"])
            text = " / ".join(
                str(detail[key]) for key in ("message", "inner") if detail.get(key)
            )
            if text:
                parts.append(text)
        return cls(
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            ": ".join(parts),
            tuple(detail_codes),
        )

    @property
    def is_fatal(self) -> bool:
        """Would retrying the same stream fail the same way? (docs/venues/vega.rst#vega-errors)"""
        return self.code in _FATAL_GRPC_CODES or any(
            code in _FATAL_DETAIL_CODES for code in self.detail_codes
        )
