"""How the Curl engine drives libcurl from the event loop: how many loop iterations a request costs."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from tether_curl import Curl

from tether import HttpClient

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"


@pytest.fixture
def slow_server() -> Iterator[str]:
    """Answers every request on a kept-alive connection 2 ms after it arrives, head and body in one
    write: the answer never arrives inside the action that sent the request, and arrives whole."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                pending = b""
                while True:
                    data = connection.recv(65536)
                    if not data:
                        return
                    pending += data
                    while b"\r\n\r\n" in pending:
                        _, pending = pending.split(b"\r\n\r\n", 1)
                        time.sleep(0.002)
                        connection.sendall(RESPONSE)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    listener.close()
    thread.join(5)


async def test_a_request_costs_three_loop_iterations(slow_server: str) -> None:
    # One to send (the kick); one in which the answer is read, with the finished transfer collected
    # right after that socket action; one in which the caller's task resumes. The collection (and the
    # look at heads that arrived without body bytes) once scheduled for the next iteration made four.
    loop = asyncio.get_running_loop()
    iterations = 0
    run_once = loop._run_once  # type: ignore[attr-defined]

    def counted() -> None:
        nonlocal iterations
        iterations += 1
        run_once()

    async with HttpClient(Curl) as client:
        for _ in range(3):  # the connection is up, the handle made
            await (await client.get(slow_server)).body_as_bytes()
        loop._run_once = counted  # type: ignore[attr-defined]
        try:
            requests = 40
            for _ in range(requests):
                assert await (await client.get(slow_server)).body_as_bytes() == b"hello"
        finally:
            del loop._run_once  # type: ignore[attr-defined]
    assert iterations / requests <= 3.1, iterations / requests


async def test_the_engine_default_connect_timeout_goes_to_libcurl_and_names_itself(slow_server: str) -> None:
    # The Curl engine applies the default itself (no request copy): the handle carries it unless the
    # request sets its own, and a libcurl connect timeout reports the value that was in force.
    from tether_curl.engine import _translate
    from tether_curl.multi import CurlError

    from tether.exceptions import ConnectTimeoutException
    from tether.request import HttpRequestBuilder

    def configure(config: object) -> None:
        config.engine.connect_timeout = 0.25  # type: ignore[attr-defined]

    async with HttpClient(Curl, configure) as client:
        await (await client.get(slow_server)).body_as_bytes()
        multi = client.engine._multi  # type: ignore[attr-defined]
        assert [applied[2] for applied in multi.applied.values()] == [250]
    request = HttpRequestBuilder("GET", slow_server).build()
    translated = _translate(CurlError(28, "Connection timed out"), request, 0.25)
    assert isinstance(translated, ConnectTimeoutException)
    assert translated.timeout == 0.25


def test_a_libcurl_failure_with_an_empty_message_is_described() -> None:
    # libcurl left its error buffer empty for a connection closed in the middle of an HTTP/2 body:
    # the ProtocolError read "GET https://...: " and nothing else.
    from tether_curl.engine import _translate
    from tether_curl.multi import CurlError

    from tether.request import HttpRequestBuilder

    error = _translate(CurlError(18, ""), HttpRequestBuilder("GET", "https://h/x").build())
    assert str(error) == "GET https://h/x: the connection closed before the whole body arrived"
    assert str(_translate(CurlError(99, ""), HttpRequestBuilder("GET", "https://h/x").build())).endswith(
        "libcurl error 99: no message from libcurl"
    )
