"""Vega data-node URLs and query strings, in one place for the streams and for REST: a base URL
(``https://host``, with or without ``/api/v2``) gives the stream root and the REST root, and
parameters are encoded the node's way (repeated keys for lists, ``true``/``false``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------------------
# URLs and stream descriptions


def _split_base(url: str) -> tuple[str, str, str]:
    """(scheme, netloc, path prefix) of a data-node base URL, with any ``/api/v2`` removed."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"not a data-node URL (want https://host or http://host): {url!r}")
    path = parts.path.rstrip("/")
    for suffix in ("/api/v2/stream", "/api/v2"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return scheme, parts.netloc, path


def rest_base_url(url: str) -> str:
    """The REST root (``http(s)://host/api/v2``) of a data node given by its base URL."""
    scheme, netloc, path = _split_base(url)
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return urlunsplit((scheme, netloc, path + "/api/v2", "", ""))


def stream_base_url(url: str) -> str:
    """The stream root (``ws(s)://host/api/v2/stream``) of a data node given by its base URL."""
    scheme, netloc, path = _split_base(url)
    scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return urlunsplit((scheme, netloc, path + "/api/v2/stream", "", ""))


def _camel(name: str) -> str:
    """``market_ids`` → ``marketIds`` (the node accepts both; docs/venues/vega.rst#vega-query)."""
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _encode_params(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Query pairs in the node's conventions: repeated keys for lists, ``true``/``false`` for
    bools; None, False-free omissions and empty lists are left out (a missing key is the
    default, docs/venues/vega.rst#vega-framing)."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, (str, int)):
            pairs.append((name, str(value)))
        elif isinstance(value, Iterable):
            pairs.extend((name, str(item)) for item in value)
        else:
            raise TypeError(f"parameter {name}: cannot send a {type(value).__name__}")
    return tuple(pairs)
