from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def rfc3986_cases() -> dict[str, Any]:
    return json.loads((DATA / "rfc3986_reference_resolution.json").read_text())
