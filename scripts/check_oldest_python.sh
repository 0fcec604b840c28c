#!/usr/bin/env bash
# The oldest Python tether supports (requires-python >= 3.10), when an interpreter for it is here:
# `import tether` and every engine, then a short suite. Without one it says so and passes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY310=""
for candidate in $(ls -1 "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 2>/dev/null) python3.10; do
    if "$candidate" -c "import sys; assert sys.version_info[:2] == (3, 10)" 2>/dev/null; then
        PY310=$candidate
        break
    fi
done
if [ -z "$PY310" ]; then
    echo "compat: no Python 3.10 interpreter found; skipping the oldest-Python check"
    exit 0
fi
VENV=.venv310
if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    "$PY310" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[aiohttp,httpx,conformance]" pytest pytest-asyncio hypothesis
    touch "$VENV/.installed"
fi
"$VENV/bin/python" -c "import sys, tether, tether.sync, tether.testing, tether_aiohttp, tether_httpx, tether_conformance; print('compat: import tether on', sys.version.split()[0], 'ok')"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider \
    tests/test_public_api.py tests/test_http_values.py tests/test_url.py tests/test_sync_facade.py \
    tests/test_conventions.py tests/test_testing_helpers.py tests/test_display.py tests/test_sync_parity.py
