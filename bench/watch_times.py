"""The edit loop under `docker compose watch`: a file saved under board/ until the new response is served.

Three kinds of edit, taken in turn so a slow spell of the machine hits them alike:
- a static file: served from disk, nothing restarts, so this is the floor
  (compose noticing the save, batching it and copying it into the container);
- a template: Flask reads it again (TEMPLATES_AUTO_RELOAD), no restart;
- a `.py` file: gunicorn's reloader replaces the workers.

`python -m bench.watch_times` measures only these and updates the watch line
of bench/results/latest.{json,md}; `make bench` runs them with the rest.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from testkit.compose import Project, wait_for

EDITS = 8
SETTLE_S = 1.0  # after each edit: the replaced workers finish booting before the next save


def _static(project: Project, number: int):
    path = project.dir / "static" / "style.css"
    path.write_text(path.read_text() + f"/* watch edit {number} */\n")
    return lambda: f"/* watch edit {number} */" in project.get("/static/style.css").text


def _template(project: Project, number: int):
    path = project.dir / "board" / "templates" / "about.html"
    text = path.read_text()
    marker = f"watch-edit-{number - 1}" if number else "</h1>"
    assert marker in text, f"{marker!r} not in {path}"
    path.write_text(text.replace(marker, f"watch-edit-{number}" if number else f"watch-edit-{number}</h1>", 1))
    return lambda: f"watch-edit-{number}" in project.get("/about").text


def _python(project: Project, number: int):
    path = project.dir / "board" / "health.py"
    old = f'jsonify(status="edit{number - 1}")' if number else 'jsonify(status="ok")'
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, f'jsonify(status="edit{number}")'))
    return lambda: project.get("/healthz").json()["status"] == f"edit{number}"


KINDS = {"static": _static, "template": _template, "python": _python}


def watch_figures(edits: int = EDITS) -> dict:
    with tempfile.TemporaryDirectory() as work:
        project = Project(Path(work))
        log = Path(work) / "watch.log"
        watch = project.popen("watch", log=log)
        try:
            wait_for(lambda: "Watch enabled" in log.read_text(), 300, "watch to start")
            wait_for(lambda: project.get("/readyz").status_code == 200, 60, "the app")
            for check in (lambda: project.get("/about").ok, lambda: project.get("/static/style.css").ok):
                wait_for(check, 30, "the first pages")
            latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
            for number in range(edits):
                for kind, edit in KINDS.items():
                    started = time.monotonic()
                    served = edit(project, number)
                    wait_for(served, 60, f"the {kind} edit", interval=0.02)
                    latencies[kind].append(time.monotonic() - started)
                    time.sleep(SETTLE_S)
        finally:
            watch.terminate()
            watch.wait(30)
            project.down(volumes=True)
    floor = statistics.median(latencies["static"])
    figures: dict = {"edits": edits}
    for kind, samples in latencies.items():
        median = statistics.median(samples)
        figures[kind] = {"median_s": round(median, 3), "worst_s": round(max(samples), 3),
                         "ratio_to_floor": round(median / floor, 2), "over_floor_s": round(median - floor, 3)}
    return figures


def line(watch: dict) -> str:
    """The bench results' line for these figures."""
    static, template, python = watch["static"], watch["template"], watch["python"]
    return (f"- docker compose watch, save to new response, median of {watch['edits']} edits each: a static file "
            f"{static['median_s']} s (the floor: nothing restarts), a template {template['median_s']} s "
            f"({template['ratio_to_floor']}× the floor), a .py file {python['median_s']} s "
            f"({python['ratio_to_floor']}× the floor, +{python['over_floor_s']} s).")


def main() -> None:
    from bench.__main__ import RESULTS, markdown

    figures = watch_figures()
    print(line(figures))
    latest = RESULTS / "latest.json"
    if latest.exists():  # the rest of the last full run stays as it was
        results = json.loads(latest.read_text())
        results["watch"] = figures
        latest.write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "latest.md").write_text(markdown(results))
    else:
        print("bench: no bench/results/latest.json to update (run make bench)", file=sys.stderr)


if __name__ == "__main__":
    main()
