"""The SQL an engine sends, for tests and benchmarks that count or inspect it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def recorded(engine: sa.Engine) -> Iterator[list[str]]:
    """The statements `engine` sends while the block runs, in order.

    Every query the app makes goes through SQLAlchemy, so all are here; the
    pool's ping (pool_pre_ping) and the driver's own BEGIN and ROLLBACK are not.
    """
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
