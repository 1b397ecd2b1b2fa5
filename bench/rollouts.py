"""Deploys under load (`make bench`, or alone: `python -m bench.rollouts`): two local EB instances behind
the ALB-like load balancer, four visitors reading and writing through it, during (a) a code change rolled as
the repo configures it (RollingWithAdditionalBatch: three instances at the peak) and as plain Rolling,
(b) a migration adding a column, (c) a predeploy hook that fails, (d) a version that fails its health check.

Writes bench/results/rollouts.json and the timeline of the rolling deploy, bench/results/rollout-timeline.svg
(requests answered and failed each second, the batches' boundaries).
"""

from __future__ import annotations

import json
import sys
import tempfile
from html import escape
from pathlib import Path

from deploy.bundle import write_bundle
from localeb import Fleet
from testkit import rollouts
from testkit.ports import free_port
from testkit.rollouts import ROLLING, Run, deploy_under_load
from testkit.tree import ROOT, copy_tree

RESULTS = Path(__file__).resolve().parent / "results"
TIMELINE = RESULTS / "rollout-timeline.svg"
SCENARIOS = [  # (name, edit, options, label)
    ("(a) code change, RollingWithAdditionalBatch (the repo's policy)", rollouts.code_change, None),
    ("(a) code change, Rolling", rollouts.code_change, ROLLING),
    ("(b) migration adding a column, Rolling", rollouts.adds_a_column, ROLLING),
    ("(c) predeploy hook fails, Rolling", rollouts.on_top(rollouts.adds_a_column, rollouts.predeploy_fails), ROLLING),
    ("(d) new version fails its health check, Rolling", rollouts.on_top(rollouts.adds_a_column,
                                                                        rollouts.exits_at_boot), ROLLING),
]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bundle(work: Path, name: str, edit=None) -> Path:
    tree = ROOT
    if edit:
        tree = copy_tree(work / name)
        edit(tree)
    return write_bundle(tree, work / f"{name}.zip")


def figures(run: Run, before: str) -> dict:
    report = run.report
    return {"ok": run.result.ok, "deploy_s": round(run.seconds, 1), "requests": len(report.answers),
            "failed": len(report.failures), "failure_samples": [f"{a.what} {a.status or a.error}"
                                                                for a in report.failures[:5]],
            "slowest_s": round(report.slowest, 2), "posts": len(report.posted), "lost_writes": len(run.lost),
            "answered_by_old_version_only": set(report.versions) <= {before},
            "served": run.served, "events": [message for _, message in run.marks]}


def rollout_figures() -> dict:
    results: dict = {"clients": 4, "scenarios": {}}
    with tempfile.TemporaryDirectory() as folder, \
            Fleet(instances=2, port=free_port(), echo=lambda line: None, health_wait=30) as fleet:
        work = Path(folder)
        first = fleet.deploy(bundle(work, "v1"), label="v1")
        if not first.ok:
            raise SystemExit(f"bench: the first version did not deploy: {first.events}")
        for number, (name, edit, options) in enumerate(SCENARIOS, 2):
            say(f"rollouts: {name}")
            before = fleet.version
            run = deploy_under_load(fleet, bundle(work, f"v{number}", edit), f"v{number}", options=options)
            results["scenarios"][name] = figures(run, before)
            if "Rolling" in name and name.startswith("(a)") and options is ROLLING:
                TIMELINE.write_text(timeline(run, "A rolling deploy of a code change under load: 2 instances, "
                                                  "batches of 1, 4 clients"))
    return results


def timeline(run: Run, title: str) -> str:
    """An SVG: requests answered (green) and failed (red) each second, and where each batch started and ended."""
    seconds = run.report.per_second()
    width, height, left, bottom, top = 900, 320, 50, 40, 40
    peak = max([answered + failed for _, answered, failed in seconds] + [1])
    step = (width - left - 20) / max(len(seconds), 1)
    scale = (height - top - bottom) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             'font-size="11">', f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="20" font-size="14">{escape(title)}</text>']
    base = height - bottom
    for second, answered, failed in seconds:
        x = left + second * step
        parts.append(f'<rect x="{x:.1f}" y="{base - answered * scale:.1f}" width="{max(step - 1, 1):.1f}" '
                     f'height="{answered * scale:.1f}" fill="#3a9d5d"/>')
        if failed:
            parts.append(f'<rect x="{x:.1f}" y="{base - (answered + failed) * scale:.1f}" '
                         f'width="{max(step - 1, 1):.1f}" height="{failed * scale:.1f}" fill="#d33"/>')
    for at, message in run.marks:
        if not message.startswith("Batch") or at < 0:
            continue
        x = left + at * step
        starting = "Starting" in message
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" stroke="{"#333" if starting else "#888"}"'
                     f' stroke-dasharray="{"" if starting else "4 3"}"/>')
        label = message.split(":")[0] + (" starts" if starting else " done")
        anchor, shift = ("end", -3) if x > width - 120 else ("start", 3)  # labels stay inside the picture
        parts.append(f'<text x="{x + shift:.1f}" y="{top + 12 + (0 if starting else 12)}" text-anchor="{anchor}" '
                     f'fill="#333">{escape(label)}</text>')
    parts += [f'<line x1="{left}" y1="{base}" x2="{width - 20}" y2="{base}" stroke="black"/>',
              f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="black"/>',
              f'<text x="{left - 8}" y="{top + 4}" text-anchor="end">{peak}</text>',
              f'<text x="{left - 8}" y="{base}" text-anchor="end">0</text>',
              f'<text x="{left}" y="{base + 16}">0 s</text>',
              f'<text x="{width - 20}" y="{base + 16}" text-anchor="end">{len(seconds)} s</text>',
              f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">requests a second: answered (green), '
              f'failed (red: {len(run.report.failures)} in all); lines: batch starts (solid), ends (dashed)</text>',
              '</svg>']
    return "\n".join(parts) + "\n"


def line(results: dict) -> str:
    rows = [f"  - {name}: {s['requests']} requests, {s['failed']} failed (slowest {s.get('slowest_s', '–')} s), "
            f"{s['posts']} posts, "
            f"{s['lost_writes']} lost; deploy {'succeeded' if s['ok'] else 'failed'} in {s['deploy_s']} s"
            + ("" if s["ok"] else f", old version answered every request: {s['answered_by_old_version_only']}")
            for name, s in results["scenarios"].items()]
    return ("- Deploys under load (2 local EB instances, 4 clients reading and writing through the load balancer; "
            "timeline: [rollout-timeline.svg](rollout-timeline.svg)):\n" + "\n".join(rows))


def main() -> None:
    results = rollout_figures()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rollouts.json").write_text(json.dumps(results, indent=2) + "\n")
    print(line(results))


if __name__ == "__main__":
    main()
