"""``AlliumApiClient``: Allium's REST API called over one WebSocket, blocking or with Futures.

::

    with AlliumApiClient(api_key=KEY) as allium:
        assets = allium.get("/api/v1/developer/assets", limit=10)
        prices = allium.post("/api/v1/developer/prices",
                             [{"token_address": "0x…", "chain": "ethereum"}])
        future = allium.request_async("GET", "/api/v1/supported-chains/realtime-apis/simple")

Many threads may call at once: requests share the socket and are matched to their replies by
id, at most ``max_in_flight`` at a time (the venue allows 1,000 per connection,
https://docs.allium.so/datastreams/websockets, "Concurrency & Rate Limits").
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, ClassVar, NoReturn, Optional, Union

from wsclients.core.client import DEFAULT, Client, Seconds
from wsclients.core.client_options import check_count, check_timeout
from wsclients.errors import NotRecordable, RequestTimeout, WSClientError
from wsclients.models import Event
from wsclients.venues.allium._auth import UpgradeHeaders
from wsclients.venues.allium.api_protocol import (
    API_URL,
    MAX_IN_FLIGHT,
    VENUE,
    AlliumApiProtocol,
    Body,
    check_request,
)
from wsclients.venues.allium.record_replay import API_NOT_RECORDABLE

__all__ = ["AlliumApiClient"]

# A blocking call waits this much longer than its request's own timeout, so the Future's
# RequestTimeout (which names the request) is what the caller sees, not a bare wait limit.
_WAIT_MARGIN = 1.0


class AlliumApiClient(Client):
    """Requests to Allium's developer API over one socket (``…/ws/api``).

    Args:
        api_key: the Allium API key. Sent only as the ``X-API-KEY`` upgrade header; never
            shown in a repr, a log line, an event or an exception. A 401/403 on the upgrade
            stops the client with ``AuthenticationFailed`` (API over WebSocket must also be
            enabled on the account).
        request_timeout: default seconds a request may take, waiting for the socket
            included (None: no limit).
        max_in_flight: requests sent and not yet answered, at most (the venue's 1,000 by
            default). More wait for a slot, or raise ``TooManyInFlight`` with ``block=False``.
        **options: the common client options (docs/options.rst). ``headers`` may not carry
            ``X-API-KEY`` (use ``api_key``) nor ``Sec-WebSocket-Extensions``.

    Errors from requests: ``AlliumRequestFailed`` (the venue's ``status: "error"``, with its
    message, the method and the path), ``AlliumTooManyInFlight`` (the venue's own in-flight
    refusal), ``RequestTimeout``, ``ConnectionLost`` (the socket dropped before the reply;
    the client reconnects with backoff and later requests go out on the new socket),
    ``ClientStopped``.

    Replies are not events; frames that answer no request come as ``Message`` events on
    channel ``"api"``, and errors not tied to a request as ``ErrorEvent``.
    """

    venue: ClassVar[str] = VENUE
    default_url: ClassVar[str] = API_URL

    def __init__(
        self,
        *,
        api_key: str,
        request_timeout: Optional[float] = 30.0,
        max_in_flight: int = MAX_IN_FLIGHT,
        **options: Any,
    ) -> None:
        check_timeout("request_timeout", request_timeout, strict=True)
        check_count("max_in_flight", max_in_flight, 1)
        options["headers"] = UpgradeHeaders(options.get("headers"), api_key)
        super().__init__(**options)
        self.request_timeout = request_timeout
        self.protocol = AlliumApiProtocol()
        """The sans-I/O protocol (``in_flight``: requests sent on this socket, unanswered)."""
        self._connection = self._open_connection(
            self.url, self.protocol, name=f"{VENUE}-api", display_url=self.url,
            request_limit=max_in_flight,
        )

    def record(
        self, path: Union[str, os.PathLike[str]], *, queue_size: int = 100_000
    ) -> NoReturn:
        """Refused (also as ``record=``): a replay could not stand for this client, see
        ``wsclients.venues.allium.record_replay``.

        Raises:
            NotRecordable: always.
        """
        raise NotRecordable(type(self).__name__, API_NOT_RECORDABLE)

    # -- requests ------------------------------------------------------------------------

    def request_async(
        self,
        method: str,
        path: str,
        body: Optional[Body] = None,
        *,
        timeout: Seconds = DEFAULT,
        block: bool = True,
    ) -> Future[Any]:
        """Send a request and return a Future of its reply's ``data``.

        Waits for the socket (bounded by ``timeout``) when it is connecting or reconnecting,
        and for a free slot when ``max_in_flight`` requests are out (unless ``block=False``).

        Args:
            method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE`` (any case).
            path: the REST path, ``/api/v1/…``.
            body: for ``GET`` the query parameters (an object); otherwise the JSON body (an
                object or an array).
            timeout: seconds until the Future fails with ``RequestTimeout`` (default:
                ``request_timeout``).
            block: at the in-flight limit, wait for a slot (True) or raise at once.

        Raises:
            ValueError: a malformed request (nothing is sent).
            TooManyInFlight: the limit is reached and ``block=False`` (or no slot in time).
            RequestTimeout: no socket within ``timeout``.
            ClientStopped: the client is stopped or gave up for good.
        """
        method, path = check_request(method, path, body)
        wait = self.request_timeout if timeout is DEFAULT else timeout
        return self._connection.request(
            lambda protocol, request_id: protocol.queue_request(
                request_id, method, path, body, timeout=wait
            ),
            timeout=wait, block=block, what=f"Allium {method} {path}",
        )

    def request(
        self,
        method: str,
        path: str,
        body: Optional[Body] = None,
        *,
        timeout: Seconds = DEFAULT,
        block: bool = True,
    ) -> Any:
        """``request_async`` and wait: the reply's ``data``, or the error it raises
        (``AlliumRequestFailed``, ``RequestTimeout``, ``ConnectionLost`` …)."""
        method, path = check_request(method, path, body)
        wait = self.request_timeout if timeout is DEFAULT else timeout
        what = f"Allium {method} {path}"
        future = self.request_async(method, path, body, timeout=wait, block=block)
        try:
            return future.result(None if wait is None else wait + _WAIT_MARGIN)
        except RequestTimeout as exc:
            # The Future's own timeout names the connection and the id; the caller wants
            # the request and the timeout it gave.
            raise RequestTimeout(what, wait) from exc
        except WSClientError:
            raise
        except FutureTimeout as exc:  # after RequestTimeout: on 3.11+ both are TimeoutError
            raise RequestTimeout(what, wait) from exc

    def get(  # type: ignore[override]
        self, path: Union[str, float, None] = None, /, **params: Any
    ) -> Any:
        """``get(path, **params)``: a blocking ``GET`` whose keywords are its query
        parameters (sent in ``body``, as the venue wants) — use ``request`` for a timeout of
        its own. ``get()`` / ``get(timeout=…)`` without a path is the event queue's, as on
        every client."""
        if path is None or isinstance(path, (int, float)):
            return self._next_event(path, params)
        return self.request("GET", path, params or None)

    def post(self, path: str, body: Optional[Body] = None, *, timeout: Seconds = DEFAULT) -> Any:
        """A blocking ``POST`` with ``body`` (an object or an array)."""
        return self.request("POST", path, body, timeout=timeout)

    @property
    def in_flight(self) -> int:
        """Requests sent and not answered yet (nor timed out)."""
        return self._connection.requests.in_flight

    # -- helpers -------------------------------------------------------------------------

    def _next_event(self, timeout: Optional[float], params: dict[str, Any]) -> Event:
        unknown = set(params) - {"timeout"}
        if unknown or (timeout is not None and params):
            raise TypeError("get() without a path takes only timeout=…; "
                            "a GET request is get('/api/v1/…', **query)")
        return super().get(params.get("timeout", timeout))
