"""The REST companion through `responses`: JSON, retries, and error mapping."""

from __future__ import annotations

import pytest
import requests
import responses

from wsclients.core.rest import RestSession
from wsclients.errors import (
    AuthenticationFailed,
    ConnectFailed,
    ProtocolViolation,
    RateLimited,
    RequestFailed,
    RequestTimeout,
)

BASE = "https://api.example.test"


def session() -> RestSession:
    return RestSession(BASE, retries=2, backoff_factor=0)


@responses.activate
def test_get_and_post_return_json() -> None:
    """Bodies are decoded; params and JSON bodies are sent."""
    responses.get(BASE + "/a", json={"ok": 1},
                  match=[responses.matchers.query_param_matcher({"x": "1"})])
    responses.post(BASE + "/info", json=[1, 2],
                   match=[responses.matchers.json_params_matcher({"type": "allMids"})])
    s = session()
    assert s.get("/a", params={"x": "1"}) == {"ok": 1}
    assert s.post("info", json={"type": "allMids"}) == [1, 2]


@responses.activate
@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_statuses_are_retried(status: int) -> None:
    """429 and 5xx are retried; a later success is returned."""
    responses.get(BASE + "/r", status=status, json={"error": "busy"})
    responses.get(BASE + "/r", json={"ok": True})
    assert session().get("/r") == {"ok": True}
    assert len(responses.calls) == 2


@responses.activate
def test_persistent_429_becomes_rate_limited() -> None:
    """429 after every retry is RateLimited."""
    responses.get(BASE + "/r", status=429, json={"error": "slow down"})
    with pytest.raises(RateLimited):
        session().get("/r")
    assert len(responses.calls) == 3


@responses.activate
def test_persistent_500_becomes_request_failed() -> None:
    """A 5xx that never clears is RequestFailed with the status."""
    responses.get(BASE + "/r", status=500, body="oops")
    with pytest.raises(RequestFailed) as info:
        session().get("/r")
    assert info.value.status in (500, None)


@responses.activate
def test_4xx_is_mapped_with_the_venue_message() -> None:
    """A 422 carries the venue's own message; 401/403 are authentication failures."""
    responses.post(BASE + "/info", status=422, json={"message": "Failed to deserialize"})
    responses.get(BASE + "/private", status=403, json={"error": "forbidden"})
    s = session()
    with pytest.raises(RequestFailed, match="Failed to deserialize") as info:
        s.post("/info", json={})
    assert info.value.status == 422 and len(responses.calls) == 1
    with pytest.raises(AuthenticationFailed):
        s.get("/private")


@responses.activate
def test_non_json_and_transport_errors() -> None:
    """A body that is not JSON, a timeout and a refused connection map to our errors."""
    responses.get(BASE + "/html", body="<html>", status=200)
    responses.get(BASE + "/slow", body=requests.Timeout("slow"))
    responses.get(BASE + "/down", body=requests.ConnectionError("refused"))
    s = session()
    with pytest.raises(ProtocolViolation, match="not JSON"):
        s.get("/html")
    with pytest.raises(RequestTimeout):
        s.get("/slow")
    with pytest.raises(ConnectFailed):
        s.get("/down")
