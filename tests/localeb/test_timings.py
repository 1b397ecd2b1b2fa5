"""Seconds per step, from the engine's own log lines."""

from localeb.timings import step_seconds


def test_each_step_lasts_until_the_next_one_opens():
    lines = ["i-1 2026/12/03 14:25:09.500000 [INFO] Executing instruction: StageApplication",
             "i-1 2026/12/03 14:25:10.000000 [INFO] Platform mode: Docker (Dockerfile)",
             "i-1 2026/12/03 14:25:11.250000 [INFO] Running platform hook: .platform/hooks/prebuild/01_a.sh",
             "i-1 2026/12/03 14:25:12.000000 [INFO] Running command /bin/sh -c docker build -t x /var/app/staging",
             "i-1 2026/12/03 14:25:14.500000 [INFO] [app-deploy] Completed successfully."]
    assert step_seconds(lines) == [("StageApplication", 1.75), (".platform/hooks/prebuild/01_a.sh", 0.75),
                                   ("docker build -t x /var/app/staging", 2.5)]
