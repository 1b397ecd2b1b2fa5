"""Ratios between two scenarios, taken round by round.

This VM speeds up and slows down over minutes. Two scenarios run back to back
in one round see the same machine, so the median of their per-round ratios
moves less than the ratio of their separate medians, and the spread of the
per-round ratios shows how far a single figure can be trusted.
"""

from __future__ import annotations

import statistics


def ratio(numerators: list[float], denominators: list[float]) -> dict:
    """The median, lowest and highest of numerators[i] / denominators[i] over the rounds."""
    if not numerators or len(numerators) != len(denominators):
        raise ValueError("one figure of each scenario per round is needed")
    ratios = sorted(top / bottom for top, bottom in zip(numerators, denominators, strict=True))
    return {"median": round(statistics.median(ratios), 3), "low": round(ratios[0], 3), "high": round(ratios[-1], 3)}
