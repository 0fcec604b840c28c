"""`make package-check`: the wheel as a user gets it, in fresh virtual environments.

1. Build the wheel; every shipped package carries `py.typed`.
2. A venv with only `tether-*.whl[aiohttp]` (and mypy): the README's example runs as a script (its
   `API_URL` pointed at a local stand-in for httpbin.org), `mypy --strict` passes on a small user
   program, and `python -m tether_conformance` names the missing extra instead of failing cases.
3. A venv with `tether-*.whl[conformance,aiohttp]`: `python -m tether_conformance --engine aiohttp`
   runs with 0 FAIL.

Prints one line per check and exits 1 if any failed.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import venv
import zipfile
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "tether",
    "tether_aiohttp",
    "tether_curl",
    "tether_httpx",
    "tether_urllib3",
    "tether_aiortc",
    "tether_conformance",
]

USER_PROGRAM = '''\
"""A small user program: typed against the installed wheel only."""

import asyncio

from tether import HttpClient, HttpClientConfig, HttpResponse, TetherError
from tether.plugins import HttpRequestRetry, HttpTimeout
from tether.sync import HttpClient as SyncHttpClient
from tether.testing import MockEngine
from tether_aiohttp import Aiohttp, AiohttpConfig


def configure(config: HttpClientConfig[AiohttpConfig]) -> None:
    config.engine.max_connections = 10
    config.install(HttpTimeout, request_timeout=5.0)
    config.install(HttpRequestRetry, max_retries=2)
    config.expect_success = True


async def fetch(client: HttpClient, path: str) -> dict[str, object]:
    response: HttpResponse = await client.get(path, timeout=3)
    data: dict[str, object] = await response.raise_for_status().json()
    return data


async def main() -> int:
    try:
        async with HttpClient(Aiohttp, configure) as client:
            print(await fetch(client, "http://127.0.0.1:1/"))
    except TetherError as error:
        print(type(error).__name__)
    engine = MockEngine()
    engine.get("/users/1").respond(json={"id": 1})
    with SyncHttpClient(engine) as sync_client:
        status: int = int(sync_client.get("https://api.test/users/1").status)
    return status


print(asyncio.run(main()))
'''


class _Httpbin(http.server.BaseHTTPRequestHandler):
    """Enough of httpbin.org for the README example: GET /get echoes the query as `args`."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        body = json.dumps({"args": dict(parse_qsl(url.query)), "url": self.path}).encode()
        self.send_response(200 if url.path == "/get" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)  # type: ignore[call-overload,no-any-return]


def make_venv(path: Path, requirement: str, *extra: str) -> Path:
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    result = run([str(python), "-m", "pip", "install", "--quiet", requirement, *extra])
    if result.returncode != 0:
        raise RuntimeError(f"pip install {requirement} failed:\n{result.stderr[-3000:]}")
    return python


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return next(block for block in blocks if "asyncio.run(main())" in block)


def main() -> int:
    results: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        results.append((name, ok, detail))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)

    with tempfile.TemporaryDirectory(prefix="tether-package-check-") as tmp:
        work = Path(tmp)
        started = time.monotonic()
        built = run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)])
        wheels = sorted((work / "dist").glob("tether-*.whl"))
        check(
            "build the wheel",
            built.returncode == 0 and len(wheels) == 1,
            wheels[0].name if wheels else built.stderr[-500:],
        )
        if not wheels:
            return 1
        wheel = wheels[0]
        names = zipfile.ZipFile(wheel).namelist()
        typed = [package for package in PACKAGES if f"{package}/py.typed" in names]
        check("py.typed in every package", typed == PACKAGES, ", ".join(typed))

        # -- only [aiohttp] ---------------------------------------------------------------------------
        python = make_venv(work / "plain", f"{wheel}[aiohttp]", "mypy")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Httpbin)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        example = work / "readme_example.py"
        example.write_text(readme_example())
        api = f"http://127.0.0.1:{server.server_address[1]}/"
        ran = run([str(python), str(example)], env={"API_URL": api, "PATH": "/usr/bin:/bin"}, cwd=work)
        server.shutdown()
        check(
            "README example with [aiohttp]",
            ran.stdout.strip() == "200 OK {'page': '2'}",
            (ran.stdout + ran.stderr).strip()[-300:],
        )

        program = work / "user_program.py"
        program.write_text(USER_PROGRAM)
        typed_run = run([str(python), "-m", "mypy", "--strict", str(program)], cwd=work)
        check("mypy --strict on a user program", typed_run.returncode == 0, typed_run.stdout.strip()[-300:])
        executed = run([str(python), str(program)], cwd=work)
        check("the user program runs", executed.stdout.strip().endswith("200"), executed.stdout.strip()[-200:])

        missing = run([str(python), "-m", "tether_conformance", "--engine", "aiohttp"], cwd=work)
        named = "pip install 'tether[conformance]'" in missing.stderr and "FAIL" not in missing.stdout
        check("conformance without its extra names it", named, missing.stderr.strip().splitlines()[-1][-200:])

        # -- [conformance,aiohttp] --------------------------------------------------------------------
        python = make_venv(work / "conformance", f"{wheel}[conformance,aiohttp]")
        suite = run([str(python), "-m", "tether_conformance", "--engine", "aiohttp"], cwd=work)
        verdicts = re.findall(r"^(\w+): (\d+) pass, (\d+) unsupported, (\d+) FAIL$", suite.stdout, re.M)
        check(
            "python -m tether_conformance --engine aiohttp",
            suite.returncode == 0 and len(verdicts) == 1 and verdicts[0][3] == "0",
            "; ".join(f"{e}: {p} pass, {u} unsupported, {f} FAIL" for e, p, u, f in verdicts)
            or (suite.stdout.strip()[-300:] + suite.stderr.strip()[-300:]),
        )
        print(f"({time.monotonic() - started:.0f} s)")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
