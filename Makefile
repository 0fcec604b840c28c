# Two set-up commands: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit conformance bench bench-quick soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/tour.py

lint: $(STAMP)
	$(BIN)/ruff check src engines conformance tests examples scripts benchmarks
	$(BIN)/ruff format --check src engines conformance tests examples scripts benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src/tether engines/tether_httpx engines/tether_aiohttp engines/tether_urllib3 engines/tether_curl conformance/tether_conformance

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[all,test,bench]"
	$(BIN)/python -m benchmarks.run

bench-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[all,test,bench]"
	$(BIN)/python -m benchmarks.run --quick

# Not part of `make test`: 50,000 requests per engine at c64, a cancellation storm and a fault mix,
# sampling RSS, fds, tasks and pool connections (docs/reliability.md). Loopback only; minutes.
soak: $(STAMP)
	$(BIN)/python scripts/soak.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
