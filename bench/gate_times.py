"""The compatibility gate's time: the serving version (HEAD here) against this tree's migrations, as in a release."""

from __future__ import annotations

import statistics
import subprocess
import time

from deploy import gate
from testkit.tree import ROOT

TARGET_S = 60  # warm cache: the app's Python environments exist already


def gate_figures(runs: int = 2) -> dict:
    label = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()

    def once() -> float:
        started = time.monotonic()
        gate.check_release(ROOT, label, out=lambda line: None, always=True)
        return time.monotonic() - started

    first = once()  # builds the cached Python environments if they are missing
    warm = [once() for _ in range(runs)]
    return {"warm_s": round(statistics.median(warm), 1), "first_s": round(first, 1), "runs": runs,
            "target_s": TARGET_S}


def line(figures: dict) -> str:
    return (f"- Compatibility gate (the serving version against the new migrations on a throwaway PostgreSQL, a "
            f"visitor's walk over HTTP): {figures['warm_s']} s with a warm cache, median of {figures['runs']} "
            f"(target ≤ {figures['target_s']} s); the first run here took {figures['first_s']} s.")
