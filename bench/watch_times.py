"""Watch latency: a file saved under board/ until the new response is served by `docker compose watch`."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from testkit.compose import Project, wait_for

EDITS = 6


def watch_figures() -> dict:
    with tempfile.TemporaryDirectory() as work:
        project = Project(Path(work))
        log = Path(work) / "watch.log"
        watch = project.popen("watch", log=log)
        try:
            wait_for(lambda: "Watch enabled" in log.read_text(), 300, "watch to start")
            wait_for(lambda: project.get("/readyz").status_code == 200, 60, "the app")
            health = project.dir / "board" / "health.py"
            latencies, current = [], "ok"
            for number in range(EDITS):
                new = f"edit{number}"
                health.write_text(health.read_text().replace(f'jsonify(status="{current}")',
                                                             f'jsonify(status="{new}")'))
                started = time.monotonic()
                wait_for(lambda status=new: project.get("/healthz").json()["status"] == status, 60, "the edit",
                         interval=0.02)
                latencies.append(time.monotonic() - started)
                current = new
                time.sleep(1)  # let the reloaded workers settle before the next save
        finally:
            watch.terminate()
            watch.wait(30)
            project.down(volumes=True)
    return {"edits": EDITS, "median_s": round(statistics.median(latencies), 2), "worst_s": round(max(latencies), 2)}
