"""A small REST companion: one ``requests.Session`` per client, retries and our errors.

Venues need REST beside the stream for metadata and recovery (Vega depth snapshots and market
decimals, Hyperliquid's ``/info``). Retries on 429/5xx and connection errors are urllib3's
``Retry`` mounted on the session, not a loop of ours, so ``responses`` can drive them offline.
Every call gets a timeout; every failure comes out as one of ``wsclients.errors``.

A ``Retry-After`` is honoured up to ``max_retry_after`` seconds (urllib3 alone allows six
hours), and every wait between retries ends at once when the session is closed (the client
stopping), with ``ClientStopped``. ``tls_options`` turns the sockets' ``sslopt`` into the
same trust for REST: one TLS configuration for both.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Mapping
from typing import Any, Optional, Union

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from wsclients.core.redact import redact_url
from wsclients.errors import (
    AuthenticationFailed,
    ClientStopped,
    ConnectFailed,
    ProtocolViolation,
    RateLimited,
    RequestFailed,
    RequestTimeout,
)

__all__ = ["DEFAULT_MAX_RETRY_AFTER", "RestSession", "tls_options"]

logger = logging.getLogger(__name__)

_RETRY_STATUSES = (429, 500, 502, 503, 504)

DEFAULT_MAX_RETRY_AFTER = 30.0
"""Longest ``Retry-After`` wait honoured between two retries, seconds."""

Verify = Union[bool, str]


def tls_options(sslopt: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """``requests``' ``verify`` and ``cert`` for the trust websocket-client's ``sslopt``
    gives the sockets: the same CA file or directory, the same client certificate, and
    verification off only where the sockets have it off."""
    sslopt = sslopt or {}
    options: dict[str, Any] = {}
    if sslopt.get("cert_reqs", ssl.CERT_REQUIRED) == ssl.CERT_NONE:
        options["verify"] = False
    else:
        options["verify"] = sslopt.get("ca_certs") or sslopt.get("ca_cert_path") or True
    certfile = sslopt.get("certfile")
    if certfile:
        keyfile = sslopt.get("keyfile")
        options["cert"] = (certfile, keyfile) if keyfile else certfile
    return options


class _StoppableRetry(Retry):
    """urllib3's ``Retry`` whose waits end when ``stopped`` is set (raising
    ``ClientStopped``) instead of sleeping on regardless."""

    stopped: Optional[threading.Event] = None

    def new(self, **kw: Any) -> _StoppableRetry:
        retry = super().new(**kw)
        assert isinstance(retry, _StoppableRetry)
        retry.stopped = self.stopped
        return retry

    def sleep_for_retry(self, response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after:
            self._wait(retry_after)
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self._wait(backoff)

    def _wait(self, seconds: float) -> None:
        stopped = self.stopped
        if stopped is not None and stopped.wait(seconds):
            raise ClientStopped("the REST call was waiting to retry when the client stopped")


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
        verify: Verify = True,
        cert: Union[str, tuple[str, str], None] = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._closed = threading.Event()
        self._session = requests.Session()
        if cert is not None:
            self._session.cert = cert
        if headers:
            self._session.headers.update(headers)
        if proxies:
            self._session.proxies.update(proxies)
        # Given on every request, not only on the session: requests lets REQUESTS_CA_BUNDLE
        # and CURL_CA_BUNDLE override a session's verify, which would undo sslopt's CA.
        self._verify = verify
        retry = _StoppableRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff_factor,
            status_forcelist=_RETRY_STATUSES,
            allowed_methods=None,  # POST /info is a read: retry it too
            respect_retry_after_header=True,
            raise_on_status=False,  # we map the last response ourselves
            retry_after_max=int(max_retry_after),
        )
        retry.stopped = self._closed
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
        shown = redact_url(url)
        what = f"{method} {shown}"
        try:
            response = self._session.request(
                method, url, timeout=self.timeout, verify=self._verify, **kwargs
            )
        except requests.Timeout as exc:
            raise RequestTimeout(what, self.timeout) from exc
        except requests.exceptions.RetryError as exc:
            raise RateLimited(str(exc), request=what) from exc
        except requests.RequestException as exc:
            raise ConnectFailed(shown, reason=redact_text(str(exc), url, shown)) from exc
        status = response.status_code
        retry_after = _retry_after(response)
        if status == 429 or (status == 403 and retry_after is not None):
            # A 403 that says when to come back is a ban for going too fast (the Vega data
            # node sends RateLimit-Retry-After with it), not a credentials failure.
            raise RateLimited(
                _error_text(response), status=status, request=what, retry_after=retry_after
            )
        if status in (401, 403):
            raise AuthenticationFailed(shown, code=status, reason=_error_text(response))
        if status >= 400:
            raise RequestFailed(_error_text(response), status=status, request=what)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ProtocolViolation(f"{what}: answer is not JSON", raw=response.content) from exc

    def close(self) -> None:
        """Release pooled connections and end any wait between retries. Idempotent."""
        self._closed.set()
        self._session.close()

    def __repr__(self) -> str:
        return f"<RestSession {redact_url(self.base_url)}>"


def redact_text(text: str, url: str, shown: str) -> str:
    """``text`` (a library's error message) with ``url`` replaced by its redacted form."""
    return text.replace(url, shown)


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
