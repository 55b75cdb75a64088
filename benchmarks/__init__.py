"""rt_widget's benchmarks (issue 7): ``python -m benchmarks`` (or ``./dev bench``) runs them all.

See ``python -m benchmarks --help`` and RESULTS.md. The browser figures reuse the end-to-end
harness under ``tests/e2e`` (JupyterLab, Chromium, the kernel client); the frame figures reuse
``frames_bench.py``; ``emulator_bench.py`` measures the emulator on its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_test_harness() -> None:
    """Make ``tests/`` importable (``e2e.harness``, ``support``), as pytest's pythonpath does."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
