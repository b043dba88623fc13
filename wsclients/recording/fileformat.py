"""The recording file: JSON lines, gzip-compressed when the name ends in ``.gz``.

One JSON object per line, each with a ``type``; ``ns`` is integer nanoseconds since the
epoch (the ``received_ns`` the live events carried) and ``conn`` the stable id of the socket
within the recording (the connection's name, made unique). In the order they happened, as
the protocol saw them::

    header         {"type":"header","format":"wsclients-recording","version":1,
                    "venue":"hyperliquid","started_ns":…,"config":null}
    open           {"type":"open","ns":…,"conn":"hyperliquid","url":"wss://…/ws",
                    "subscriptions":[{"type":"trades","coin":"BTC"}],"joined":false}
    frame          {"type":"frame","conn":"hyperliquid","ns":…,"data":"{\"channel\":…}"}
                   (``"b64"`` instead of ``"data"`` for a frame that is not UTF-8)
    subscriptions  {"type":"subscriptions","ns":…,"conn":"hyperliquid","subscriptions":[…]}
    job            {"type":"job","ns":…,"conn":"vega-1","kind":"snapshot","key":[1,"initial"],
                    "args":"<market>","result":{…}}   (or "error":{"type":…,"message":…})
    learned        {"type":"learned","ns":…,"learned":{"decimals":{"<market>":[5,3]}}}
    close          {"type":"close","ns":…,"conn":"hyperliquid","code":1006,"reason":"…"}
    status         {"type":"status","ns":…,"conn":"hyperliquid","url":"wss://…",
                    "state":"connected","attempt":0,"delay":null,"code":null,"reason":""}
    end            {"type":"end","ns":…,"records":1234,"dropped":0}

``open.joined`` is true when recording began on a socket that was already open. URLs are
stored as ``wsclients.core.redact.redact_url`` shows them (no userinfo, every query value
``***``): they say where the socket went; what it carried is in ``subscriptions``.
Readers skip types they do not know, so later versions may add some.
"""

from __future__ import annotations

import base64
import gzip
import os
import zlib
from collections.abc import Iterator
from typing import IO, Any, Callable, Union, cast

from wsclients.core import codec
from wsclients.errors import CorruptRecording

__all__ = [
    "FORMAT",
    "VERSION",
    "frame_line",
    "frame_prefix",
    "open_for_reading",
    "open_for_writing",
    "read_header",
    "read_records",
    "record_line",
]

_json_bytes: Callable[[Any], bytes]
try:
    from orjson import dumps as _json_bytes
except ImportError:  # pragma: no cover - exercised only without the "fast" extra

    def _json_bytes(value: Any) -> bytes:
        return codec.dumps(value).encode("utf-8")


FORMAT = "wsclients-recording"
VERSION = 1

_GZIP_LEVEL = 5  # a writer thread that keeps up with a busy socket; 9 buys little more
Source = Union[str, "os.PathLike[str]"]


def open_for_writing(path: Source) -> IO[bytes]:
    """A binary file for the lines (UTF-8 bytes); gzip when the name ends in ``.gz``.

    Raises:
        OSError: the file cannot be created.
    """
    name = os.fspath(path)
    if name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(name, "wb", compresslevel=_GZIP_LEVEL))
    return open(name, "wb")


def open_for_reading(path: Source) -> IO[bytes]:
    """The file's bytes, decompressed when the name ends in ``.gz``."""
    name = os.fspath(path)
    if name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(name, "rb"))
    return open(name, "rb")


def record_line(record: dict[str, Any]) -> bytes:
    """One record as its line (newline included)."""
    return _json_bytes(record) + b"\n"


def frame_prefix(conn: str) -> bytes:
    """What every ``frame`` line of socket ``conn`` starts with (built once per socket)."""
    return b'{"type":"frame","conn":' + _json_bytes(conn) + b',"ns":'


def frame_line(prefix: bytes, data: Union[str, bytes], received_ns: int) -> bytes:
    """A ``frame`` record's line (the common record: a few C calls, no dict); ``prefix``
    from ``frame_prefix``."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            encoded = base64.b64encode(bytes(data))
            return b"%s%d,\"b64\":\"%s\"}\n" % (prefix, received_ns, encoded)
    return b"%s%d,\"data\":%s}\n" % (prefix, received_ns, _json_bytes(text))


def frame_data(record: dict[str, Any]) -> Union[str, bytes]:
    """A ``frame`` record's payload as it came off the wire.

    Raises:
        ValueError: the record holds no payload.
    """
    data = record.get("data")
    if isinstance(data, str):
        return data
    encoded = record.get("b64")
    if isinstance(encoded, str):
        return base64.b64decode(encoded, validate=True)
    raise ValueError("frame without data")


def read_header(path: Source) -> dict[str, Any]:
    """The recording's first line, checked.

    Raises:
        CorruptRecording: not a wsclients recording, or its header cannot be read.
        OSError: the file cannot be opened.
    """
    name = os.fspath(path)
    try:
        with open_for_reading(name) as source:
            first = source.readline()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise CorruptRecording(name, 1, f"cannot read the header: {exc}") from exc
    try:
        header = codec.loads(first)
    except ValueError as exc:
        raise CorruptRecording(name, 1, "the header is not JSON") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CorruptRecording(name, 1, f"not a {FORMAT} file")
    if header.get("version") != VERSION:
        raise CorruptRecording(
            name, 1, f"format version {header.get('version')!r}; this reader knows {VERSION}"
        )
    if not isinstance(header.get("venue"), str):
        raise CorruptRecording(name, 1, "the header names no venue")
    return header


def read_records(path: Source) -> Iterator[Union[dict[str, Any], CorruptRecording]]:
    """Every record after the header, in order; a line that cannot be read is yielded as a
    ``CorruptRecording`` in its place and reading goes on. A gzip stream that is cut short
    or damaged ends the reading (nothing after it can be found) with one last
    ``CorruptRecording``."""
    name = os.fspath(path)
    line_number = 0
    with open_for_reading(name) as source:
        lines = iter(source)
        while True:
            try:
                line = next(lines)
            except StopIteration:
                return
            except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
                yield CorruptRecording(
                    name, line_number + 1, f"the compressed file is cut short or damaged ({exc})"
                )
                return
            line_number += 1
            if line_number == 1:
                continue  # the header, read by read_header
            try:
                record = codec.loads(line)
            except ValueError:
                reason = "not a JSON line" if line.endswith(b"\n") else "line cut short"
                yield CorruptRecording(name, line_number, reason)
                continue
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                yield CorruptRecording(name, line_number, "a record is an object with a type")
                continue
            record["_line"] = line_number
            yield record
