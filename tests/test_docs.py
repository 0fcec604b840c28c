"""The documentation cannot rot: the notebook runs, the site builds strict, the API reference lists
every public name, and the engine pages carry capabilities generated from the engines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbclient
import nbformat
import pytest

import tether

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "notebooks" / "explore-an-api.ipynb"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The built site: `make test` builds it once (`make docs`) and says where; alone, build it here."""
    given = os.environ.get("TETHER_DOCS_SITE")
    if given:
        yield (ROOT / given).resolve()
        return
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    yield target


def outputs(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.extend(str(value) for value in output.get("data", {}).values())
    return "\n".join(parts)


def test_the_notebook_executes_against_the_embedded_server() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "commit it unexecuted"
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    ).execute()
    shown = "\n".join(outputs(cell) for cell in notebook.cells if cell.cell_type == "code")
    assert "('GET', 'page=2', ['2'])" in shown  # the sync client against the echo endpoint
    assert "binary body: application/octet-stream, 4,096 bytes" in shown  # rich display
    assert "greeting  id=1  data='hello'" in shown  # SSE
    assert "3000000" in shown  # the streamed download
    assert "Traceback" not in shown


def test_the_api_reference_lists_every_public_name(site: Path) -> None:
    page = (site / "reference" / "index.html").read_text()
    documented = set(re.findall(r'id="tether\.(\w+)"', page))
    missing = [name for name in tether.__all__ if name not in documented]
    assert not missing, f"tether.{missing} missing from the API reference"


@pytest.mark.parametrize(
    ("page", "anchors"),
    [
        (
            "reference/plugins",
            ["tether.plugins.retry.RetryPolicy.jitter", "tether.plugins.timeout.HttpTimeoutPluginConfig"],
        ),
        ("reference/engines", ["tether_aiohttp.AiohttpConfig", "tether_curl.CurlConfig.http_version"]),
        ("reference/exceptions", ["tether.exceptions.TlsError"]),
        ("reference/sync", ["tether.sync.HttpClient.sse"]),
        ("reference/testing", ["tether.testing.MockEngine.assert_called_once_with"]),
    ],
)
def test_reference_pages_cover_configs_engines_and_exceptions(site: Path, page: str, anchors: list[str]) -> None:
    html = (site / page / "index.html").read_text()
    for anchor in anchors:
        assert f'id="{anchor}"' in html, anchor


@pytest.mark.parametrize(
    ("engine", "line"), [("aiohttp", "Http2Capability</code>: no"), ("curl", "Http3Capability</code>: yes")]
)
def test_engine_pages_carry_generated_capabilities(site: Path, engine: str, line: str) -> None:
    html = (site / "engines" / engine / "index.html").read_text()
    assert "Generated from" in html and line in html


def test_the_notebook_is_rendered_in_the_site(site: Path) -> None:
    html = (site / "notebooks" / "explore-an-api" / "index.html").read_text()
    assert "Explore an API with tether" in html and "greeting" in html


def test_the_exception_tree_is_generated(site: Path) -> None:
    html = (site / "exceptions" / "index.html").read_text()
    assert "<code>ConnectError</code> (also <code>ConnectionError</code>)" in html
    assert "<code>TlsError</code>" in html


def test_the_pytest_example_of_the_testing_page_passes(tmp_path: Path) -> None:
    block = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "testing.md").read_text(), re.S)[0]
    app, test = block.split("# test_app.py")
    (tmp_path / "app.py").write_text(app)
    (tmp_path / "test_app.py").write_text(test.split("\n", 1)[1])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto", "test_app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "2 passed" in result.stdout, result.stdout + result.stderr
