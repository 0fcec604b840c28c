#!/usr/bin/env bash
# The oldest and newest Pythons tether supports (requires-python >= 3.10; 3.13 the newest tried), when
# an interpreter for them is here: `import tether` and its engines, then a short suite. A version with
# no interpreter is reported and skipped. The venvs (.venv-py3.X) are reused until pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."
for version in 3.10 3.13; do
    python=""
    for candidate in $(ls -1 "$HOME"/.pyenv/versions/"$version".*/bin/python"$version" 2>/dev/null) python"$version"; do
        if "$candidate" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$version'" 2>/dev/null; then
            python=$candidate
            break
        fi
    done
    if [ -z "$python" ]; then
        echo "compat: no Python $version interpreter found; skipping it"
        continue
    fi
    venv=.venv-py$version
    if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -e ".[aiohttp,httpx,conformance]" pytest pytest-asyncio hypothesis
        touch "$venv/.installed"
    fi
    "$venv/bin/python" -c "import sys, tether, tether.sync, tether.testing, tether_aiohttp, tether_httpx, tether_conformance; print('compat: import tether on', sys.version.split()[0], 'ok')"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider \
        tests/test_public_api.py tests/test_http_values.py tests/test_url.py tests/test_sync_facade.py \
        tests/test_conventions.py tests/test_testing_helpers.py tests/test_display.py tests/test_sync_parity.py
done
