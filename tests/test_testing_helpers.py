"""MockEngine for users: routes, json=/text=/headers= responses, assertions, loud misses, the fixture."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tether import HttpClient
from tether.testing import MockEngine, request_json, request_text, respond


async def test_routes_answer_by_method_and_url_pattern() -> None:
    engine = MockEngine()
    engine.get("https://api.test/users/1").respond(json={"id": 1})
    engine.get("/users/*").respond(text="any user", headers={"X-From": "glob"})
    engine.route(None, re.compile(r"/items$")).respond(status=204)
    async with HttpClient(engine) as client:
        one = await client.get("https://api.test/users/1", params={"expand": "all"})  # query ignored
        other = await client.get("https://elsewhere.test/users/7")
        deleted = await client.delete("https://api.test/items")
    assert await one.json() == {"id": 1} and one.headers["Content-Type"] == "application/json"
    assert await other.body_as_text() == "any user" and other.headers["X-From"] == "glob"
    assert other.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert deleted.status == 204
    assert [route.call_count for route in engine.routes] == [1, 1, 1]
    engine.assert_all_called()


async def test_a_route_can_answer_with_a_function_and_fail_like_a_server() -> None:
    engine = MockEngine()
    engine.post("https://api.test/echo").mock(lambda request: respond(request_text(request).upper(), status=201))
    async with HttpClient(engine) as client:
        response = await client.post("https://api.test/echo", content="shout")
    assert (response.status, await response.body_as_text()) == (201, "SHOUT")


async def test_assertions_on_what_was_sent() -> None:
    engine = MockEngine()
    engine.post("https://api.test/users").respond(status=201)
    async with HttpClient(engine) as client:
        await client.post("https://api.test/users", json={"name": "Grace"}, headers={"X-Trace": "t1"})
    request = engine.assert_called_once_with(
        "POST", "https://api.test/users", json={"name": "Grace"}, headers={"X-Trace": "t1"}
    )
    assert request_json(request) == {"name": "Grace"}
    with pytest.raises(AssertionError, match=r"JSON body \{'name': 'Grace'\}, expected \{'name': 'Ada'\}"):
        engine.assert_called_with("POST", "https://api.test/users", json={"name": "Ada"})
    with pytest.raises(AssertionError, match="Expected no request, got 1"):
        engine.assert_not_called()


async def test_an_unmatched_request_fails_loudly_and_is_remembered() -> None:
    engine = MockEngine()
    route = engine.get("https://api.test/users/1").respond(json={})
    async with HttpClient(engine) as client:
        with pytest.raises(AssertionError, match=r"no route matches GET https://api.test/users/2; routes:"):
            await client.get("https://api.test/users/2")
    assert [str(request.url) for request in engine.unmatched] == ["https://api.test/users/2"]
    with pytest.raises(AssertionError, match="Routes never called"):
        engine.assert_all_called()
    assert not route.called


def test_respond_takes_one_body() -> None:
    with pytest.raises(TypeError, match="one of content, json= and text="):
        respond(json={}, text="x")


def test_the_pytest_fixture_is_installed_as_a_plugin_and_fails_on_swallowed_misses(tmp_path: Path) -> None:
    test_file = tmp_path / "test_user_code.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import asyncio
            from tether.sync import HttpClient

            def fetch_name(client):
                try:
                    return client.get("https://api.test/users/1").json()["name"]
                except Exception:
                    return None  # code under test that swallows errors

            def test_passes(tether_mock):
                tether_mock.get("https://api.test/users/1").respond(json={"name": "Ada"})
                with HttpClient(tether_mock) as client:
                    assert fetch_name(client) == "Ada"

            def test_swallowed_miss_still_fails(tether_mock):
                with HttpClient(tether_mock) as client:
                    assert fetch_name(client) is None
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert "2 passed, 1 error" in result.stdout, result.stdout + result.stderr  # the error: at teardown
    assert "ERROR at teardown of test_swallowed_miss_still_fails" in result.stdout
    assert "Requests no route or handler answered: GET https://api.test/users/1" in result.stdout


def test_respond_with_a_dict_as_content_points_at_json() -> None:
    # requests-mock and respx habits: respond({"days": []}) -- the JSON body is json=...
    with pytest.raises(TypeError, match=r"got dict \(a JSON body: json=\.\.\.\)"):
        respond({"days": []})  # type: ignore[arg-type]
