"""tether's engine conformance suite: prove an engine behaves exactly like every other.

    python -m tether_conformance --engine mypkg.engine:MyEngineFactory --format markdown

Cases live in `tether_conformance.cases`; see `tether_conformance.registry` to write one.
"""

import importlib.util
import sys

#: What the local servers need; without one of them many cases would FAIL for the wrong reason.
_NEEDED = ("hypercorn", "trustme", "aioquic", "brotli", "zstandard")
_missing = [name for name in _NEEDED if importlib.util.find_spec(name) is None]
if _missing:
    _message = (
        f"The tether conformance suite needs {', '.join(_missing)}, which "
        f"{'is' if len(_missing) == 1 else 'are'} not installed: pip install 'tether[conformance]'"
    )
    if sys.argv[:1] == ["-m"]:  # `python -m tether_conformance`: one line and the usage-error status
        print(f"error: {_message}", file=sys.stderr)
        raise SystemExit(2)
    raise ModuleNotFoundError(_message, name=_missing[0])

# After the check above (noqa E402): a missing server dependency is named, not a traceback from deep inside.
from tether_conformance.registry import CASES, Case, CaseContext, case  # noqa: E402
from tether_conformance.runner import (  # noqa: E402
    EngineProfile,
    EngineSpecError,
    HangReport,
    Verdict,
    engine_profile,
    load_cases,
    load_engine,
    render,
    run_case,
    run_matrix,
)
from tether_conformance.servers import ServerEnvironment  # noqa: E402

__all__ = [
    "CASES",
    "Case",
    "CaseContext",
    "EngineProfile",
    "EngineSpecError",
    "HangReport",
    "ServerEnvironment",
    "Verdict",
    "case",
    "engine_profile",
    "load_cases",
    "load_engine",
    "render",
    "run_case",
    "run_matrix",
]
