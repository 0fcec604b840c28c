"""tether's engine conformance suite: prove an engine behaves exactly like every other.

    python -m tether_conformance --engine mypkg.engine:MyEngine --format markdown

Cases live in `tether_conformance.cases`; see `tether_conformance.registry` to write one.
"""

from tether_conformance.registry import CASES, Case, CaseContext, case
from tether_conformance.runner import Verdict, load_cases, load_engine, render, run_case, run_matrix
from tether_conformance.servers import ServerEnvironment

__all__ = [
    "CASES",
    "Case",
    "CaseContext",
    "ServerEnvironment",
    "Verdict",
    "case",
    "load_cases",
    "load_engine",
    "render",
    "run_case",
    "run_matrix",
]
