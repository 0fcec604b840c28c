# Two set-up commands: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit conformance bench bench-quick clean

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
	$(BIN)/ruff check src engines conformance tests examples scripts benchmarks
	$(BIN)/ruff format --check src engines conformance tests examples scripts benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src/tether engines/tether_httpx engines/tether_aiohttp engines/tether_urllib3 engines/tether_curl engines/tether_aiortc conformance/tether_conformance

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[all,test,bench]"
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.webrtc

bench-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[all,test,bench]"
	$(BIN)/python -m benchmarks.run --quick
	$(BIN)/python -m benchmarks.webrtc --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
