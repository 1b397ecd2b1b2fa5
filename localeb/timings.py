"""Where a deployment's time goes: seconds per step, read from the engine's log lines (eb-engine.log's format)."""

from __future__ import annotations

import re
from datetime import datetime

LINE = re.compile(r"(?P<when>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6}) \[\w+\] (?P<message>.*)")
# The lines that open a step: an instruction, a hook, a command.
OPENS = re.compile(r"(Executing instruction: |Running platform hook: |Running command /bin/sh -c )(?P<step>.*)")


def step_seconds(lines: list[str]) -> list[tuple[str, float]]:
    """Each step and the seconds until the next one opened (the last: until the last line)."""
    marks: list[tuple[datetime, str]] = []
    last = None
    for line in lines:
        found = LINE.search(line)
        if not found:
            continue
        last = datetime.strptime(found["when"], "%Y/%m/%d %H:%M:%S.%f")
        opened = OPENS.match(found["message"])
        if opened:
            marks.append((last, opened["step"][:80]))
    ends = [when for when, _ in marks[1:]] + [last]
    return [(step, round((end - start).total_seconds(), 2)) for (start, step), end in zip(marks, ends, strict=True)]
