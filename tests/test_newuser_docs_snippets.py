"""Every ```python block of the docs compiles, its `tether` imports exist, and it uses no name that
neither it nor an earlier block of its page imports or defines (a reader copies one block, so a
class it needs must be imported there or above). Names that stand for the reader's own objects
(`client`, `config`, `url`...) are the context a fragment is written in, not missing imports.

The notebook, the testing page's pytest example and the README example run elsewhere
(tests/test_docs.py, scripts/package_check.py); this is the cheap check for all the others."""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
BLOCK = re.compile(r"^([ \t]*)```python[^\n]*\n(.*?)^\1```", re.S | re.M)

#: The reader's own objects, which fragments take as given.
CONTEXT = frozenset(
    {
        "auth",
        "call",
        "channel",
        "client",
        "config",
        "data",
        "handle",
        "log",
        "parent_configure",
        "request",
        "response",
        "session",
        "store",
        "TOKEN_URL",
        "url",
        "ws",
    }
)


def blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text()
    found = []
    for match in BLOCK.finditer(text):
        indent, body = match.group(1), match.group(2)
        lines = [line[len(indent) :] if line.startswith(indent) else line for line in body.splitlines()]
        found.append((text[: match.start()].count("\n") + 1, "\n".join(lines) + "\n"))
    return found


def bound_and_used(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names bound anywhere in `tree` and names read anywhere (scopes ignored: a fragment is short)."""
    bound: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, used


def missing_imports(tree: ast.AST) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("tether"):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                if alias.name != "*" and not hasattr(module, alias.name):
                    problems.append(f"{node.module} has no {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tether"):
                    importlib.import_module(alias.name)
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_python_blocks_compile_and_name_what_they_use(page: Path) -> None:
    known = set(dir(builtins)) | CONTEXT
    problems = []
    for line, source in blocks(page):
        where = f"{page.name}:{line}"
        try:
            tree = compile(source, where, "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError as error:
            problems.append(f"{where}: {error}")
            continue
        problems.extend(f"{where}: {problem}" for problem in missing_imports(tree))
        bound, used = bound_and_used(tree)
        undefined = sorted(used - bound - known)
        if undefined:
            problems.append(f"{where}: uses {', '.join(undefined)} without importing or defining it")
        known |= bound
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_page_passes_a_configure_function_as_the_engine(page: Path) -> None:
    """`HttpClient(configure)` raises TypeError: the first argument is the engine. Inline code counts
    too (docs/websockets.md had it in prose, where the block check does not look)."""
    wrong = re.findall(r"HttpClient\((?:configure|lambda)\b[^)\n]*\)?", page.read_text())
    assert not wrong, f"{page.name}: {wrong} (write HttpClient(Curl, configure) or HttpClient(configure=configure))"
