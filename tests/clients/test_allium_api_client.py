"""AlliumApiClient against FakeAllium: real sockets, real threads, the real websocket-client."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from tests.conftest import T
from tests.helpers import wait_until
from wsclients import (
    AlliumApiClient,
    AlliumRequestFailed,
    AlliumTooManyInFlight,
    AuthenticationFailed,
    ConnectionLost,
    ConnectionState,
    RequestTimeout,
    TooManyInFlight,
)
from wsclients.testing.allium import FakeAllium
from wsclients.testing.allium_api import ApiRequest

pytestmark = pytest.mark.timeout(30)

KEY = "sk-allium-very-secret-0123456789"
FAST: dict[str, Any] = {"backoff_min": 0.01, "backoff_max": 0.05}


@pytest.fixture
def fake() -> Iterator[FakeAllium]:
    with FakeAllium(api_key=KEY, rate=None) as fake:
        fake.route("POST", "/echo", lambda request: {"id": request.id, "body": request.body})
        yield fake


def client_for(fake: FakeAllium, **options: Any) -> AlliumApiClient:
    return AlliumApiClient(api_key=KEY, url=fake.api_url, **{**FAST, **options})


def test_get_sends_its_query_parameters_in_the_body(fake: FakeAllium) -> None:
    """get(path, **params): method GET, the params as ``body``, the reply's data returned."""
    with client_for(fake) as client:
        assets = client.get("/api/v1/developer/assets", limit=2)
    [request] = fake.api_requests
    assert (request.method, request.path, request.body) == (
        "GET", "/api/v1/developer/assets", {"limit": 2})
    assert isinstance(assets, dict) and len(assets["items"]) == 2


def test_post_sends_its_body_and_returns_the_data(fake: FakeAllium) -> None:
    """post(path, body): an array body goes as it is (``POST /prices`` takes one)."""
    tokens = [{"token_address": "0x0000000000000000000000000000000000000001",
               "chain": "ethereum"}]
    with client_for(fake) as client:
        answer = client.post("/echo", tokens)
    assert answer["body"] == tokens


def test_the_key_goes_in_the_upgrade_header_only(fake: FakeAllium) -> None:
    """X-API-KEY on the upgrade; no compression extension offered; the key in no frame."""
    with client_for(fake) as client:
        client.get("/api/v1/developer/assets")
    conn, upgrade = fake.connections[0], fake.requests[0]
    headers = {k.lower(): v for k, v in conn.request_headers.items()}
    assert headers["x-api-key"] == KEY
    assert "sec-websocket-extensions" not in headers
    assert KEY not in upgrade.target and not any(KEY in str(m) for m in conn.received)


def test_request_ids_are_unique_and_replies_match_in_any_order(fake: FakeAllium) -> None:
    """Replies arrive shuffled by random latency; every Future gets its own answer."""
    fake.latency = (0.0, 0.05)
    with client_for(fake) as client:
        futures = [client.request_async("POST", "/echo", {"n": n}) for n in range(40)]
        answers = [future.result(timeout=5 * T) for future in futures]
    assert [a["body"] for a in answers] == [{"n": n} for n in range(40)]
    ids = [r.id for r in fake.api_requests]
    assert len(set(ids)) == 40 and all(isinstance(i, str) for i in ids)
    replied = [reply["id"] for reply in fake.api_replies]
    assert replied != sorted(replied, key=int), "the fake did not shuffle; nothing was tested"


def test_sixteen_threads_request_at_once(fake: FakeAllium) -> None:
    """16 threads × 10 requests on one socket: each gets its own answer, none is lost."""
    fake.latency = (0.0, 0.01)
    results: dict[int, list[Any]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def work(thread: int) -> None:
        barrier.wait()
        try:
            results[thread] = [client.post("/echo", {"t": thread, "i": i})["body"]
                               for i in range(10)]
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)

    with client_for(fake) as client:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10 * T)
    assert not errors
    assert results == {t: [{"t": t, "i": i} for i in range(10)] for t in range(16)}
    assert len({r.id for r in fake.api_requests}) == 160


def test_an_error_reply_raises_with_method_path_and_message(fake: FakeAllium) -> None:
    """``status: "error"`` → AlliumRequestFailed naming the request and the server's text."""
    with client_for(fake) as client, pytest.raises(AlliumRequestFailed) as caught:
        client.get("/api/v1/developer/nothing-here", q="x")
    error = caught.value
    assert (error.method, error.path) == ("GET", "/api/v1/developer/nothing-here")
    assert error.message == "not found: GET /api/v1/developer/nothing-here"
    assert "GET /api/v1/developer/nothing-here" in str(error)


def test_the_client_keeps_to_its_in_flight_limit(fake: FakeAllium) -> None:
    """At the limit: block=False raises TooManyInFlight at once; block=True waits for a slot."""
    fake.hold_replies()
    with client_for(fake, max_in_flight=2) as client:
        first = [client.request_async("POST", "/echo", {"n": n}) for n in range(2)]
        with pytest.raises(TooManyInFlight):
            client.request_async("POST", "/echo", {"n": 2}, block=False)
        waiting: Future[Any] = Future()
        thread = threading.Thread(
            target=lambda: waiting.set_result(client.post("/echo", {"n": 3})))
        thread.start()
        fake.wait_for_api_requests(2, timeout=5 * T)
        assert not waiting.done() and fake.inflight() == 2
        fake.release_replies()
        assert [f.result(5 * T)["body"] for f in first] == [{"n": 0}, {"n": 1}]
        wait_until(lambda: fake.request_count() == 3)
        fake.release_replies()
        assert waiting.result(5 * T)["body"] == {"n": 3}
        thread.join(5 * T)
    assert fake.inflight_rejections == 0


def test_the_servers_in_flight_refusal_is_a_typed_error(fake: FakeAllium) -> None:
    """Should the venue count differently, its "max inflight requests reached" is
    AlliumTooManyInFlight, a TooManyInFlight, naming the request."""
    fake.max_inflight = 1
    fake.hold_replies()
    with client_for(fake) as client:
        first = client.request_async("POST", "/echo", {"n": 1})
        fake.wait_for_api_requests(1, timeout=5 * T)
        with pytest.raises(AlliumTooManyInFlight) as caught:
            client.post("/echo", {"n": 2})
        assert isinstance(caught.value, TooManyInFlight) and caught.value.path == "/echo"
        fake.release_replies()
        assert first.result(5 * T)["body"] == {"n": 1}


def test_a_request_times_out_with_a_clear_error(fake: FakeAllium) -> None:
    """No reply within the timeout: RequestTimeout naming the request."""
    fake.hold_replies()
    with client_for(fake) as client:
        with pytest.raises(RequestTimeout) as caught:
            client.request("GET", "/api/v1/developer/assets", timeout=0.2)
        fake.release_replies()
    assert isinstance(caught.value, TimeoutError)
    assert str(caught.value) == "Allium GET /api/v1/developer/assets: no answer within 0.2 s"


def test_a_drop_fails_pending_requests_and_the_client_reconnects(fake: FakeAllium) -> None:
    """Requests on a dropped socket fail with ConnectionLost; later ones use the new socket."""
    fake.hold_replies()
    with client_for(fake) as client:
        pending = [client.request_async("POST", "/echo", {"n": n}) for n in range(3)]
        fake.wait_for_api_requests(3, timeout=5 * T)
        fake.drop_all()
        for future in pending:
            with pytest.raises(ConnectionLost):
                future.result(5 * T)
        fake.release_replies()
        fake.wait_for_connections(2, timeout=5 * T)
        assert client.post("/echo", {"after": True})["body"] == {"after": True}
        assert client.stats.reconnects >= 1


def test_a_request_made_while_reconnecting_waits_for_the_socket(fake: FakeAllium) -> None:
    """Made between the drop and the new socket, it goes out on the new one."""
    with client_for(fake, backoff_min=0.3, backoff_max=0.3) as client:
        fake.drop_all()
        assert wait_until(lambda: client.state is ConnectionState.RECONNECTING)
        assert client.post("/echo", {"late": 1}, timeout=5 * T)["body"] == {"late": 1}


def test_a_request_the_socket_end_failed_before_it_was_sent_goes_on_the_next(
    fake: FakeAllium, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registered, then its socket ended (failing its Future) before it was sent: it goes
    out on the next socket under a fresh Future and is answered, never reported lost while
    the server answers it (found by the fault soak)."""
    with client_for(fake) as client:
        connection = client._connection
        add = connection.requests.add
        failed: list[Future[Any]] = []

        def add_then_lose_the_socket(request_id: Any, **options: Any) -> Future[Any]:
            future = add(request_id, **options)
            if not failed:
                failed.append(future)
                fake.drop_all()
                assert wait_until(future.done)
                assert connection.wait_session(5 * T)  # the next socket is up
            return future

        monkeypatch.setattr(connection.requests, "add", add_then_lose_the_socket)
        assert client.post("/echo", {"n": 1}, timeout=5 * T)["body"] == {"n": 1}
    assert isinstance(failed[0].exception(), ConnectionLost)
    assert fake.request_count("POST", "/echo") == 1


def test_a_request_gives_up_when_no_socket_comes_in_time(fake: FakeAllium) -> None:
    """The wait for the socket is bounded by the request's own timeout."""
    with client_for(fake, backoff_min=5.0, backoff_max=5.0) as client:
        fake.reject_handshake(503, times=None)  # full jitter may retry at once: refuse it
        fake.drop_all()
        assert wait_until(lambda: client.state is ConnectionState.RECONNECTING)
        with pytest.raises(RequestTimeout):
            client.request("GET", "/api/v1/developer/assets", timeout=0.2 * T)


@pytest.mark.parametrize("refusal", ["bad key", "feature off"])
def test_a_refused_upgrade_is_fatal_and_clear(refusal: str) -> None:
    """401 (bad key) or 403 (not enabled): start() raises AuthenticationFailed, no retries."""
    with FakeAllium(api_key=KEY, api_enabled=refusal != "feature off", rate=None) as fake:
        key = "wrong-key-abcdef" if refusal == "bad key" else KEY
        client = AlliumApiClient(api_key=key, url=fake.api_url, **FAST)
        with pytest.raises(AuthenticationFailed) as caught:
            client.start(timeout=5 * T)
        assert client.state is ConnectionState.CLOSED
        assert len(fake.requests) == 1
    error = caught.value
    assert error.fatal and error.code == (401 if refusal == "bad key" else 403)
    assert key not in str(error) and key not in repr(error)


def test_the_key_appears_in_no_repr_log_event_or_error(
    fake: FakeAllium, caplog: pytest.LogCaptureFixture
) -> None:
    """Secrets stay out of everything a user might print or log."""
    caplog.set_level(logging.DEBUG)
    seen: list[Any] = []
    with client_for(fake, on_status=seen.append, on_error=seen.append) as client:
        with pytest.raises(AlliumRequestFailed) as caught:
            client.get("/missing")
        fake.drop_all()
        fake.wait_for_connections(2, timeout=5 * T)
        wait_until(lambda: sum(1 for s in seen if getattr(s, "state", None)
                               is ConnectionState.CONNECTED) >= 2)
        texts = [repr(client), str(client), repr(client._connection), repr(client.protocol),
                 repr(client._connection.options), repr(vars(client)),
                 repr(caught.value), str(caught.value), repr(client.stats)]
    # The fake server logs the upgrade it received; only the client's side is checked.
    texts += [repr(event) for event in seen] + [
        record.getMessage() for record in caplog.records
        if not record.name.startswith("wsclients.testing")]
    assert seen and caplog.records and all(KEY not in text for text in texts)


def test_compression_headers_are_refused() -> None:
    """permessage-deflate cannot be decoded by websocket-client: refused with a clear error."""
    with pytest.raises(ValueError, match="permessage-deflate"):
        AlliumApiClient(api_key=KEY, headers={"Sec-WebSocket-Extensions": "permessage-deflate"})
    with pytest.raises(ValueError, match="api_key"):
        AlliumApiClient(api_key=KEY, headers={"x-api-key": "other"})
    with pytest.raises(ValueError, match="api_key"):
        AlliumApiClient(api_key="")


def test_a_bad_request_is_refused_before_sending(fake: FakeAllium) -> None:
    """An unknown method or a relative path raises ValueError; nothing reaches the venue."""
    with client_for(fake) as client:
        with pytest.raises(ValueError):
            client.request("FETCH", "/api/v1/developer/assets")
        with pytest.raises(ValueError):
            client.get("api/v1/developer/assets")
    assert fake.api_requests == []


def test_get_without_a_path_is_the_event_queue(fake: FakeAllium) -> None:
    """get(timeout=…) keeps its meaning on every client: the next event."""
    with client_for(fake) as client:
        status = client.get(timeout=2 * T)
        assert status.kind == "status"
        with pytest.raises(queue.Empty):
            while True:
                client.get(timeout=0.05)


def test_handlers_see_what_the_client_sent(fake: FakeAllium) -> None:
    """PUT/PATCH/DELETE go out as named, with their bodies."""
    seen: list[ApiRequest] = []
    for method in ("PUT", "PATCH", "DELETE"):
        fake.route(method, "/thing", lambda request: seen.append(request) or "ok")
    with client_for(fake) as client:
        assert [client.request(m, "/thing", {"m": m}) for m in ("put", "PATCH", "Delete")] == [
            "ok", "ok", "ok"]
    assert [(r.method, r.body) for r in seen] == [
        ("PUT", {"m": "put"}), ("PATCH", {"m": "PATCH"}), ("DELETE", {"m": "Delete"})]
