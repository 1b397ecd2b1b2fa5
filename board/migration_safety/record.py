"""The Alembic operations a revision's upgrade() performs, recorded without a database.

upgrade() runs against an `op` that keeps each operation object (AddColumnOp,
CreateIndexOp, ExecuteSQLOp, ...) instead of executing it, batch blocks
included, so the rules see the operation and its options rather than SQL text.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from types import SimpleNamespace

from alembic.operations import BatchOperations, Operations
from alembic.operations import ops as alembic_ops
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from sqlalchemy import create_mock_engine


class NoRows:
    """What a statement sent through the bind returns here: no rows, as from an empty database (a revision that
    reads rows to transform them then has nothing to transform, and its writes are recorded as they are)."""

    def __iter__(self):
        return iter(())

    def all(self) -> list:
        return []

    def first(self):
        return None

    def scalars(self):
        return self

    fetchall, one_or_none, scalar = all, first, first


def recorder(context: MigrationContext, recorded: list) -> Operations:
    """An `op` whose every operation lands in `recorded` (Alembic looks `invoke` up on the instance)."""

    def invoke(operation):
        recorded.append(operation)
        if isinstance(operation, alembic_ops.CreateTableOp):
            return operation.to_table(context)
        return None

    @contextmanager
    def batch_alter_table(table_name, schema=None, **kw):
        batch = BatchOperations(context, impl=SimpleNamespace(table_name=table_name, schema=schema))
        batch.invoke = invoke
        yield batch

    def get_bind():
        # For revisions that branch on the dialect or execute through the bind: that SQL is kept as raw SQL.
        def execute(statement, *args, **kw):
            recorded.append(alembic_ops.ExecuteSQLOp(statement))
            return NoRows()

        return create_mock_engine("postgresql+psycopg2://", execute)

    op = Operations(context)
    op.invoke, op.batch_alter_table, op.get_bind = invoke, batch_alter_table, get_bind
    return op


def operations(script: Script) -> list:
    """The operations of the revision's upgrade(), in order, as PostgreSQL would get them."""
    context = MigrationContext.configure(dialect_name="postgresql",
                                         opts={"as_sql": True, "output_buffer": io.StringIO()})
    recorded: list = []
    op = recorder(context, recorded)
    op._install_proxy()  # what Operations.context() does, with this instance as `op`
    try:
        script.module.upgrade()
    finally:
        op._remove_proxy()
    return recorded
