"""A small REST companion: one ``requests.Session`` per client, retries and our errors.

Venues need REST beside the stream for metadata and recovery (Vega depth snapshots and market
decimals, Hyperliquid's ``/info``). Retries on 429/5xx and connection errors are urllib3's
``Retry`` mounted on the session, not a loop of ours, so ``responses`` can drive them offline.
Every call gets a timeout; every failure comes out as one of ``wsclients.errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Optional

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from wsclients.errors import (
    AuthenticationFailed,
    ConnectFailed,
    ProtocolViolation,
    RateLimited,
    RequestFailed,
    RequestTimeout,
)

__all__ = ["RestSession"]

logger = logging.getLogger(__name__)

_RETRY_STATUSES = (429, 500, 502, 503, 504)


class RestSession:
    """GET/POST JSON against one base URL with timeouts, bounded retries and mapped errors."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff_factor: float = 0.2,
        headers: Optional[Mapping[str, str]] = None,
        proxies: Optional[Mapping[str, str]] = None,
        verify: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        if headers:
            self._session.headers.update(headers)
        if proxies:
            self._session.proxies.update(proxies)
        self._session.verify = verify
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff_factor,
            status_forcelist=_RETRY_STATUSES,
            allowed_methods=None,  # POST /info is a read: retry it too
            respect_retry_after_header=True,
            raise_on_status=False,  # we map the last response ourselves
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def get(self, path: str, params: Any = None) -> Any:
        """GET ``path`` and return the decoded JSON body."""
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None) -> Any:
        """POST ``json`` to ``path`` and return the decoded JSON body."""
        return self.request("POST", path, json=json)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call with retries; the JSON answer, or one of our errors."""
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = self.base_url + "/" + path.lstrip("/")
        what = f"{method} {url}"
        try:
            response = self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise RequestTimeout(what, self.timeout) from exc
        except requests.exceptions.RetryError as exc:
            raise RateLimited(str(exc), request=what) from exc
        except requests.RequestException as exc:
            raise ConnectFailed(url, reason=str(exc)) from exc
        status = response.status_code
        retry_after = _retry_after(response)
        if status == 429 or (status == 403 and retry_after is not None):
            # A 403 that says when to come back is a ban for going too fast (the Vega data
            # node sends RateLimit-Retry-After with it), not a credentials failure.
            raise RateLimited(
                _error_text(response), status=status, request=what, retry_after=retry_after
            )
        if status in (401, 403):
            raise AuthenticationFailed(url, code=status, reason=_error_text(response))
        if status >= 400:
            raise RequestFailed(_error_text(response), status=status, request=what)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ProtocolViolation(f"{what}: answer is not JSON", raw=response.content) from exc

    def close(self) -> None:
        """Release pooled connections. Idempotent."""
        self._session.close()

    def __repr__(self) -> str:
        return f"<RestSession {self.base_url}>"


def _retry_after(response: requests.Response) -> Optional[float]:
    """Seconds the venue asks us to wait (``Retry-After`` or ``RateLimit-Retry-After``),
    when it says so in seconds."""
    for name in ("Retry-After", "RateLimit-Retry-After"):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds >= 0 and seconds == seconds and seconds != float("inf"):
            return seconds
    return None


def _error_text(response: requests.Response) -> str:
    """The venue's own error message when the body has one, else the body, shortened."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason or ""
    if isinstance(body, Mapping):
        for key in ("message", "error", "msg", "detail"):
            value = body.get(key)
            if isinstance(value, Mapping):
                value = value.get("message", value)
            if value:
                return str(value)[:200]
    return str(body)[:200]
