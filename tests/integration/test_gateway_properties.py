"""No body, header set or token of any shape makes the gateway answer 5xx, and every answer
but 200 is a rejection recorded in the ledger (over real HTTP, seeded: the same cases each run)."""
import json
import os
import signal
import socket
import string
import time

import pytest

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from schemas import sql
from tests.integration.harness import wait_until
from webapp.keepalive import KEEP_ALIVE_S

TOKEN_CHARS = string.ascii_letters + string.digits + "-_.~"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4), max_leaves=10)
alerts = st.fixed_dictionaries(
    {"symbol": st.sampled_from(["RELIANCE", "NSE:SBIN", "NOSUCH", "", "NIFTY"])},
    optional={"strategy": st.sampled_from(["st", "other", ""]),
              "action": st.sampled_from(["BUY", "SELL", "buy", "exit", "BUY_CALL", "x"]),
              "price": st.one_of(st.text(max_size=12), st.floats(), st.integers()),
              "quantity": st.one_of(st.text(max_size=12), st.floats(), st.integers()),
              "extra": json_values})
bodies = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                   json_values.map(lambda v: json.dumps(v).encode()),
                   alerts.map(lambda v: json.dumps(v).encode()))
headers = st.dictionaries(st.sampled_from(["content-type", "x-forwarded-for", "user-agent",
                                           "content-encoding", "accept"]),
                          st.text(alphabet=string.printable.strip(), max_size=40), max_size=3)


def _rejections(pipeline) -> int:
    with pipeline.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(sql.webhook_rejections)).scalar()


def test_no_request_gets_a_5xx_and_every_rejection_is_recorded(pipeline):
    link = pipeline.add_link(strategy="st")

    tokens = st.text(TOKEN_CHARS, min_size=1, max_size=40).filter(
        lambda t: t.strip("."))   # "/hook/." is "/hook/": no token at all

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(token=st.one_of(st.just(link["token"]), tokens),
           body=bodies, extra=headers)
    def check(token, body, extra):
        before = _rejections(pipeline)
        response = pipeline.http.post(f"/hook/{token}", content=body, headers=extra)
        assert response.status_code < 500, response.text
        assert "error" in response.json() or response.status_code == 200
        assert _rejections(pipeline) == before + (response.status_code != 200)

    check()


ROUNDS = 3      # uvicorn's own protocol is reset in about half of them: three show it


@pytest.mark.one_kafka_broker          # the web app's connections, whatever the broker
def test_a_kept_alive_connection_is_answered_after_the_web_app_stalled(pipeline):
    """A client sends its next alert on a kept-alive connection while the web app is stopped
    past its keep-alive (as `docker pause` or a paused host stops it): when it runs again it
    answers the request, never resets the connection unanswered (nginx would answer 502 and
    TradingView does not retry: the alert would be lost). Three rounds on one connection."""
    link = pipeline.add_link(strategy="st")
    host, port = pipeline.settings.web_host, pipeline.settings.web_port
    request = (f"POST /hook/{link['token']} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n"
               "Content-Type: application/json\r\n\r\n{}").encode()
    with socket.create_connection((host, port), timeout=30) as conn:
        answers = conn.makefile("rb")
        conn.sendall(request)
        for round_ in range(ROUNDS):
            answer = _response(answers)
            assert answer.startswith(b"HTTP/1.1 422"), \
                f"round {round_}: closed without an answer: {answer[:80]!r}"
            answered = time.monotonic()
            _hold_until(answered + KEEP_ALIVE_S - 1)   # idle, still kept alive
            os.kill(pipeline.web.pid, signal.SIGSTOP)
            try:
                wait_until(lambda: _state(pipeline.web.pid) == "T", 10, "the web app stopped")
                conn.sendall(request)                  # queued in the socket while it is stopped
                _hold_until(answered + KEEP_ALIVE_S + 1)
            finally:
                os.kill(pipeline.web.pid, signal.SIGCONT)
        answer = _response(answers)
    assert answer.startswith(b"HTTP/1.1 422"), f"closed without an answer: {answer[:80]!r}"


def _hold_until(moment: float) -> None:
    """The stall itself (a span of time the test is about, not a wait for a state)."""
    while time.monotonic() < moment:
        time.sleep(0.05)


def _state(pid: int) -> str:
    """The process's state letter in /proc (T: stopped)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def _response(answers) -> bytes:
    """One whole HTTP/1.1 response read from the connection (b"" when it was closed)."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = answers.readline()
        if not line:
            return head
        head += line
    length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                   if h.lower().startswith(b"content-length:")), 0)
    return head + answers.read(length)
