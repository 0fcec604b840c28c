"""A tour of tether: one program, every installed engine, one table. Run with `make demo`.

The program below never mentions an engine except in `main()`, which runs it once per engine against
an embedded local server (the conformance suite's) and prints what each step returned or raised.
Identical rows are the point: same results, same exception classes, on every engine.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Awaitable, Callable
from typing import Any

from tether_conformance import ServerEnvironment

from tether import HttpClient, HttpClientConfig, TetherError
from tether.engine import HttpClientEngineFactory, discover_engines
from tether.plugins import SSE, HttpTimeout, PluginBuilder, create_client_plugin
from tether.websockets import WebSockets


@create_client_plugin("RequestId")
def RequestId(plugin: PluginBuilder[Any]) -> None:
    """A custom plugin: numbers every request."""
    counter = iter(range(1, 1_000_000))
    plugin.on_request(lambda request, content: request.headers.__setitem__("X-Request-Id", str(next(counter))))


def configure_for(env: ServerEnvironment) -> Callable[[HttpClientConfig[Any]], None]:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.engine.ca_bundle = env.ca_file  # trust the embedded server's test CA
        config.default_request(url=env.http("/"), headers={"X-Api-Version": "2"})
        config.install(HttpTimeout, socket_timeout=2.0)
        config.install(RequestId)
        config.install(SSE)
        config.install(WebSockets)
        config.expect_success = True

    return configure


async def tour(client: HttpClient, env: ServerEnvironment) -> list[tuple[str, str]]:
    """The application code: written once, engine-agnostic."""
    steps: list[tuple[str, Callable[[], Awaitable[str]]]] = []

    async def echo_get() -> str:
        echo = await (await client.get("echo", params={"page": 2})).json()
        sent = {k: v for k, v in echo["headers"] if k.startswith("x-")}
        return f"{echo['method']} ?{echo['query']} {sent}"

    async def post_json() -> str:
        echo = await (await client.post("echo", json={"name": "Ada"})).json()
        return f"{echo['body_text']} ({echo['body_length']} bytes)"

    async def upload_file() -> str:
        response = await client.post("echo/body", files={"f": ("a.txt", io.BytesIO(b"hello"), "text/plain")})
        return f"multipart echoed, {len(await response.body_as_bytes())} bytes"

    async def redirect() -> str:
        response = await client.get("redirect/chain/3")
        return f"{response.status} after redirects, at {response.request.url.path}"

    async def stream_to_sink() -> str:
        digest = hashlib.sha256()

        class Sink:
            def write(self, data: bytes) -> None:
                digest.update(data)

        async with client.prepare_get("bytes", params={"size": 5_000_000}).execute() as response:
            size = await response.body_as_channel().read_to(Sink())
        return f"{size} bytes streamed, sha256 {digest.hexdigest()[:12]}…"

    async def https() -> str:
        # (The protocol may differ: Curl negotiates HTTP/2 through ALPN by default, the others 1.1.)
        response = await client.get(env.https("/text/utf8"))
        return f"{response.status} {await response.body_as_text()}"

    async def not_found() -> str:
        await client.get("status/404")
        return "no exception?"

    async def truncated() -> str:
        await client.get(env.raw_url("truncated-content-length"))
        return "no exception?"

    async def too_slow() -> str:
        await client.get("delay", params={"seconds": 1}, timeout=0.2)
        return "no exception?"

    async def refused() -> str:
        await client.get("http://127.0.0.1:1/")
        return "no exception?"

    async def server_sent_events() -> str:
        async with client.sse("sse/basic") as session:
            events = [event.data async for event in session.incoming]
        return f"{len(events)} events: {', '.join(repr(data) for data in events)}"

    async def websocket() -> str:
        async with client.websocket(env.ws("echo")) as ws:
            await ws.send_text("hello")
            await ws.send_bytes(b"\x00\x01")
            replies = [await ws.receive_text(), await ws.receive_bytes()]
        return f"echoed {replies}, closed {ws.close_code}"

    steps = [
        ("GET with params", echo_get),
        ("POST json", post_json),
        ("multipart upload", upload_file),
        ("redirect chain", redirect),
        ("stream 5 MB to a sink", stream_to_sink),
        ("HTTPS", https),
        ("server-sent events", server_sent_events),
        ("WebSocket echo", websocket),
        ("404 + expect_success", not_found),
        ("truncated body", truncated),
        ("request timeout", too_slow),
        ("connection refused", refused),
    ]
    rows = []
    for name, step in steps:
        try:
            rows.append((name, await step()))
        except TetherError as exc:
            rows.append((name, f"raises {type(exc).__name__}"))
        except Exception as exc:  # an engine that leaks its library's exception: shown, not fatal
            rows.append((name, f"raises {type(exc).__module__}.{type(exc).__name__} (not a TetherError)"))
    return rows


async def run(engines: dict[str, HttpClientEngineFactory[Any]], env: ServerEnvironment) -> None:
    results: dict[str, list[tuple[str, str]]] = {}
    for factory in engines.values():
        async with HttpClient(factory, configure_for(env)) as client:
            results[factory.name] = await tour(client, env)
    names = list(results)
    steps = [step for step, _ in results[names[0]]]
    width = max(len(step) for step in steps)
    print(f"tether tour: {len(names)} engines ({', '.join(names)}), one program\n")
    for index, step in enumerate(steps):
        outcomes = {results[name][index][1] for name in names}
        if len(outcomes) == 1:
            print(f"  {step:<{width}}  {outcomes.pop()}   [same on all]")
        else:
            for name in names:
                print(f"  {step:<{width}}  {name}: {results[name][index][1]}")
    differing = sum(len({results[n][i][1] for n in names}) > 1 for i in range(len(steps)))
    print(f"\n{len(steps) - differing} of {len(steps)} steps identical on every engine")


def main() -> None:
    engines, failed = discover_engines()
    for name, reason in failed.items():
        print(f"(engine {name} not installed: {reason})")
    with ServerEnvironment() as env:
        asyncio.run(run(engines, env))


if __name__ == "__main__":
    main()
