"""URLs as we print them: no password, no token, no API key.

A venue URL may carry a secret in its userinfo (``user:password@``) or in its query
(``?key=…``). Every URL that reaches ``repr()``, a ``Status``, an error message or a log goes
through ``redact_url`` first, so a secret is never printed, only the shape of the URL.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

__all__ = ["redact_url"]

_HIDDEN = "***"


def redact_url(url: str) -> str:
    """``url`` with its userinfo and every query value replaced by ``***``.

    Scheme, host, port, path and the query's parameter names stay, so the printed URL
    still says where the client went and with which parameters.
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return _fallback(url)
    netloc = parts.netloc
    if "@" in netloc:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{_HIDDEN}@{host}" + (f":{port}" if port is not None else "")
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(f"{quote(name, safe='')}={_HIDDEN}" for name, _ in pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _fallback(url: str) -> str:
    """A URL we cannot parse: keep what precedes any userinfo or query, hide the rest."""
    head = url.split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = head.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = _HIDDEN + "@" + rest.split("@", 1)[1]
        head = scheme + sep + rest
    return head + (f"?{_HIDDEN}" if "?" in url else "")
