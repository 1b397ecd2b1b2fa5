"""The findings of each revision: its recorded operations against the rules, given what earlier revisions built."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from alembic.operations import ops
from alembic.script import Script, ScriptDirectory
from sqlalchemy.dialects import postgresql

from .record import operations
from .rules import Finding

VOLATILE = re.compile(r"\b(random|gen_random_uuid|uuid_generate_v\d\w*|clock_timestamp|timeofday|nextval)\s*\(", re.I)
NAME = r'"?(?:\w+"?\.)?"?(\w+)"?'  # an identifier, maybe quoted or schema-qualified: the bare name
CREATE_INDEX = rf"CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)(?:IF NOT EXISTS )?(?:{NAME} )?ON (?:ONLY )?{NAME}"
UPDATE_ALL = rf"UPDATE {NAME} SET (?!.*\bWHERE\b)"  # noqa: S608 (a pattern over migration text, not a query)


@dataclass
class Schema:
    """What the revisions so far have built, as far as the rules need it."""

    tables: set[str] = field(default_factory=set)
    checks: dict[str, tuple[str, str, bool]] = field(default_factory=dict)  # name: (table, condition, validated)

    def not_null_checked(self, table: str, column: str) -> bool:
        condition = re.compile(rf'\(*\s*"?{re.escape(column)}"?\s+IS\s+NOT\s+NULL\s*\)*', re.I)
        return any(t == table and validated and condition.fullmatch(text.strip())
                   for t, text, validated in self.checks.values())


@dataclass
class Revision:
    """One revision's findings, and the deliberate steps its safe_because accepts."""

    script: Script
    findings: list[Finding]

    @property
    def markers(self) -> dict:
        return getattr(self.script.module, "safe_because", None) or {}

    def refused(self) -> list[Finding]:
        return [f for f in self.findings if not str(self.markers.get(f.key, "")).strip()]

    def stale_markers(self) -> list[str]:
        """safe_because keys naming no finding: a marker must name the step it excuses."""
        keys = {f.key for f in self.findings}
        return [key for key in self.markers if key not in keys]


def sql_text(statement) -> str:
    if isinstance(statement, str):
        return statement
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def default_text(default) -> str:
    arg = getattr(default, "arg", default)
    return "" if arg is None else sql_text(arg) if isinstance(arg, (str, sa.ClauseElement)) else str(arg)


def widens(old, new) -> bool:
    """varchar(n) to varchar(m >= n) or to text: PostgreSQL changes only the catalog."""
    if not isinstance(old, sa.String) or not isinstance(new, sa.String):
        return False
    if isinstance(new, sa.Text) or new.length is None:
        return True
    return not isinstance(old, sa.Text) and old.length is not None and new.length >= old.length


class Checker:
    """Walks one revision's operations, updating `schema` as PostgreSQL would."""

    def __init__(self, schema: Schema, revision: str):
        self.schema, self.revision = schema, revision
        self.created: set[str] = set()  # tables this revision creates: empty, nobody serves them yet
        self.findings: list[Finding] = []

    def flag(self, kind: str, table: str, detail: str | None = None) -> None:
        if table not in self.created:
            self.findings.append(Finding(self.revision, kind, f"{table}.{detail}" if detail else table))

    def visit(self, operation) -> None:
        handler = getattr(self, f"on_{type(operation).__name__}", None)
        if handler:
            handler(operation)

    def on_CreateTableOp(self, op: ops.CreateTableOp) -> None:
        self.created.add(op.table_name)
        self.schema.tables.add(op.table_name)

    def on_DropTableOp(self, op: ops.DropTableOp) -> None:
        self.flag("drop_table", op.table_name)
        self.schema.tables.discard(op.table_name)
        self.created.discard(op.table_name)

    def on_RenameTableOp(self, op: ops.RenameTableOp) -> None:
        self.flag("rename_table", op.table_name)

    def on_AddColumnOp(self, op: ops.AddColumnOp) -> None:
        column = op.column
        default = default_text(column.server_default)
        if column.identity is not None or VOLATILE.search(default):
            self.flag("volatile_default", op.table_name, column.name)
        elif not column.nullable and not default:
            self.flag("add_not_null_column", op.table_name, column.name)
        if column.foreign_keys:
            self.flag("add_foreign_key", op.table_name, column.name)

    def on_DropColumnOp(self, op: ops.DropColumnOp) -> None:
        self.flag("drop_column", op.table_name, op.column_name)

    def on_AlterColumnOp(self, op: ops.AlterColumnOp) -> None:
        table, column = op.table_name, op.column_name
        if op.modify_name:
            self.flag("rename_column", table, column)
        if op.modify_type is not None and not widens(op.existing_type, op.modify_type):
            self.flag("alter_type", table, column)
        if op.modify_nullable is False and op.existing_nullable is not False:
            self.set_not_null(table, column)

    def set_not_null(self, table: str, column: str) -> None:
        if not self.schema.not_null_checked(table, column):
            self.flag("set_not_null", table, column)

    def on_CreateIndexOp(self, op: ops.CreateIndexOp) -> None:
        if not op.kw.get("postgresql_concurrently"):
            self.flag("create_index", op.table_name, op.index_name)

    def on_CreateUniqueConstraintOp(self, op) -> None:
        self.flag("add_unique", op.table_name, op.constraint_name)

    on_CreatePrimaryKeyOp = on_CreateUniqueConstraintOp

    def on_CreateForeignKeyOp(self, op: ops.CreateForeignKeyOp) -> None:
        if not op.kw.get("postgresql_not_valid"):
            self.flag("add_foreign_key", op.source_table, op.constraint_name)

    def on_CreateCheckConstraintOp(self, op: ops.CreateCheckConstraintOp) -> None:
        not_valid = bool(op.kw.get("postgresql_not_valid"))
        self.schema.checks[op.constraint_name] = (op.table_name, sql_text(op.condition), not not_valid)
        if not not_valid:
            self.flag("add_check", op.table_name, op.constraint_name)

    def on_ExecuteSQLOp(self, op: ops.ExecuteSQLOp) -> None:
        for statement in sql_text(op.sqltext).split(";"):
            self.raw(" ".join(statement.split()))

    def raw(self, sql: str) -> None:
        """Hand-written SQL: the same rules, read from the statement's words."""
        if match := re.match(rf"DROP TABLE (?:IF EXISTS )?{NAME}", sql, re.I):
            self.flag("drop_table", match[1])
        if match := re.match(CREATE_INDEX, sql, re.I):
            self.flag("create_index", match[3], match[2])
        if match := re.match(UPDATE_ALL, sql, re.I):
            self.flag("update_all_rows", match[1])
        table = re.match(rf"ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{NAME}\s+(.*)", sql, re.I)
        if table:
            self.alter_table(table[1], table[2])

    def alter_table(self, table: str, actions: str) -> None:
        for action in re.split(r",\s*(?![^()]*\))", actions):
            words = action.strip()
            if match := re.match(rf"DROP (?:COLUMN )?(?!CONSTRAINT)(?:IF EXISTS )?{NAME}", words, re.I):
                self.flag("drop_column", table, match[1])
            elif match := re.match(rf"RENAME (?:COLUMN )?(?!TO\b){NAME} TO", words, re.I):
                self.flag("rename_column", table, match[1])
            elif re.match(r"RENAME TO", words, re.I):
                self.flag("rename_table", table)
            elif match := re.match(rf"ALTER (?:COLUMN )?{NAME} (?:SET DATA )?TYPE", words, re.I):
                self.flag("alter_type", table, match[1])
            elif match := re.match(rf"ALTER (?:COLUMN )?{NAME} SET NOT NULL", words, re.I):
                self.set_not_null(table, match[1])
            elif match := re.match(rf"ADD CONSTRAINT {NAME} (.*)", words, re.I):
                self.add_constraint(table, match[1], match[2])
            elif (match := re.match(rf"VALIDATE CONSTRAINT {NAME}", words, re.I)) and match[1] in self.schema.checks:
                checked, condition, _ = self.schema.checks[match[1]]
                self.schema.checks[match[1]] = (checked, condition, True)

    def add_constraint(self, table: str, name: str, definition: str) -> None:
        not_valid = re.search(r"\bNOT VALID\s*$", definition, re.I) is not None
        if re.match(r"(UNIQUE|PRIMARY KEY)\b", definition, re.I) and not re.search(r"\bUSING INDEX\b", definition,
                                                                                   re.I):
            self.flag("add_unique", table, name)
        elif re.match(r"FOREIGN KEY\b", definition, re.I) and not not_valid:
            self.flag("add_foreign_key", table, name)
        elif check := re.match(r"CHECK\s*\((.*)\)(?:\s+NOT VALID)?\s*$", definition, re.I):
            self.schema.checks[name] = (table, check[1], not not_valid)
            if not not_valid:
                self.flag("add_check", table, name)


def in_order(directory: ScriptDirectory) -> list[Script]:
    return list(reversed(list(directory.walk_revisions())))


def check(directory: ScriptDirectory, after: str | None) -> list[Revision]:
    """Every revision after `after` (None: all of them), each judged on the schema its predecessors built."""
    schema = Schema()
    scripts = in_order(directory)
    names = [script.revision for script in scripts]
    if after is not None and after not in names:
        raise LookupError(f"no revision {after!r} in {directory.dir} (revisions: {', '.join(names)})")
    start = names.index(after) + 1 if after is not None else 0
    judged = []
    for position, script in enumerate(scripts):
        checker = Checker(schema, script.revision)
        for operation in operations(script):
            checker.visit(operation)
        if position >= start:
            judged.append(Revision(script, checker.findings))
    return judged
