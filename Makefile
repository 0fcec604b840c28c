# Two set-up commands: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck docs unit compat package-check conformance bench bench-quick soak autobahn clean

$(STAMP): pyproject.toml tests/webrtc_peer/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,test]"
	# The WebRTC interop peer (node-datachannel, prebuilt binary in the npm package), pinned by its lock file.
	cd tests/webrtc_peer && npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/tour.py

lint: $(STAMP)
	$(BIN)/ruff check src engines conformance tests examples scripts benchmarks docs/hooks.py
	$(BIN)/ruff format --check src engines conformance tests examples scripts benchmarks docs/hooks.py

typecheck: $(STAMP)
	$(BIN)/mypy src/tether engines/tether_httpx engines/tether_aiohttp engines/tether_urllib3 engines/tether_curl engines/tether_aiortc conformance/tether_conformance docs/hooks.py

# The site, strict (a broken link, a missing reference or a failing notebook cell fails the build).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

unit: $(STAMP)
	$(BIN)/python -m pytest -q

# The oldest and newest supported Pythons, when their interpreters are here: import, and a short suite.
compat:
	./scripts/check_pythons.sh

test: lint typecheck docs compat
	TETHER_DOCS_SITE=site $(BIN)/python -m pytest -q

# The wheel as users get it: fresh venvs, the README example, mypy --strict, the conformance suite.
package-check: $(STAMP)
	$(BIN)/python scripts/package_check.py

# The peers (curl_cffi, pyreqwest, rnet, niquests, aiosonic) in their own venv: niquests' urllib3-future
# would replace the urllib3 that tether+Urllib3 runs on. A peer without a wheel here is recorded, not fatal.
PEERS_STAMP := .venv-peers/.installed

$(PEERS_STAMP): benchmarks/peers.txt | $(STAMP)
	$(BIN)/python -m benchmarks.peers install
	touch $(PEERS_STAMP)

bench: $(STAMP) $(PEERS_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[all,test,bench]"
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.webrtc

bench-quick: $(STAMP) $(PEERS_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[all,test,bench]"
	$(BIN)/python -m benchmarks.run --quick
	$(BIN)/python -m benchmarks.webrtc --quick

# Not part of `make test`: 50,000 requests per engine at c64, a cancellation storm and a fault mix,
# sampling RSS, fds, tasks and pool connections (docs/reliability.md). Loopback only; minutes.
soak: $(STAMP)
	$(BIN)/python scripts/soak.py

# Autobahn's compression groups (12.x, 13.x) on every engine; cases 1-10 run in `make test`.
autobahn: $(STAMP)
	$(BIN)/python -m tether_conformance.autobahn --cases '12.*' '13.*'

clean:
	rm -rf $(VENV) .venv-peers .venv-py3.* .mypy_cache .ruff_cache .pytest_cache site
