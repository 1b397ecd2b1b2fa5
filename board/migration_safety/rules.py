"""What makes an operation unsafe during a rolling deploy on PostgreSQL, and the safe sequence of releases.

In a rolling deploy the first instance migrates and the version still serving
on the others runs against the new schema until its turn comes; meanwhile
every statement that waits behind a migration's lock waits with it. Each rule
says which of the two an operation breaks, and the releases that get there
safely instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    why: str
    releases: tuple[str, ...]  # the safe sequence, one release (or one revision) a line


RULES = {
    "drop_table": Rule(
        "the version still serving reads and writes this table until its instances are replaced; "
        "its queries fail once the table is gone",
        ("release 1: no code reads or writes the table (its model is gone)",
         "release 2: a revision drops it, with safe_because naming release 1")),
    "rename_table": Rule(
        "the version still serving queries the table by its old name; every query fails after the rename",
        ("release 1: create the new table; the code writes both and reads the old",
         "release 2: copy the old rows over in batches (not in the migration); the code reads the new",
         "release 3: the code stops writing the old table",
         "release 4: a revision drops the old table, with safe_because naming release 3")),
    "drop_column": Rule(
        "the version still serving selects and inserts this column until its instances are replaced; "
        "its queries fail once the column is gone",
        ("release 1: the code stops reading and writing the column (the model drops it; a NOT NULL column "
         "first becomes nullable or gets a default, so the new code's inserts succeed)",
         "release 2: a revision drops it, with safe_because naming release 1")),
    "rename_column": Rule(
        "the version still serving selects and inserts the column by its old name; its queries fail after "
        "the rename",
        ("release 1 (expand): add the new column, nullable; the code writes both columns and reads the old",
         "release 2 (backfill and switch): copy old to new in batches outside the migration; the code reads "
         "the new column and still writes both",
         "release 3 (contract): the code stops writing the old column; a revision drops it, with safe_because "
         "naming release 2 as the last reader")),
    "alter_type": Rule(
        "changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock (no reads, no writes "
        "until it ends), and the version still serving may write values the new type refuses",
        ("release 1: add a column of the new type; the code writes both and reads the old",
         "release 2: backfill the new column in batches outside the migration; the code reads it",
         "release 3: the code stops writing the old column; a revision drops it (safe_because)",
         "(widening a varchar, or varchar to text, needs no rewrite and is not flagged)")),
    "set_not_null": Rule(
        "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, and fails if the version still "
        "serving inserted a NULL meanwhile",
        ("release 1: the code always writes the column; backfill existing rows in batches outside the migration",
         "release 2: a revision adds CHECK (column IS NOT NULL) NOT VALID (instant) and then VALIDATE CONSTRAINT "
         "(scans without blocking writes); SET NOT NULL after it uses the validated check instead of a scan, "
         "and the check can be dropped")),
    "add_not_null_column": Rule(
        "a NOT NULL column without a default fails on a table with rows, and the version still serving inserts "
        "rows without it",
        ("release 1: add the column nullable, or NOT NULL with a constant server default (no rewrite on "
         "PostgreSQL 11+); the code writes it",
         "release 2: backfill, then make it NOT NULL as set_not_null describes")),
    "volatile_default": Rule(
        "a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval(), an identity column) is "
        "computed for every existing row: the table is rewritten under an ACCESS EXCLUSIVE lock",
        ("release 1: add the column without a default (or with a constant one); set the volatile default "
         "afterwards with ALTER COLUMN SET DEFAULT, which applies to new rows only",
         "release 2: backfill existing rows in batches outside the migration")),
    "create_index": Rule(
        "CREATE INDEX on an existing table blocks every write to it until the index is built",
        ("one revision: op.create_index(..., postgresql_concurrently=True) inside "
         "`with op.get_context().autocommit_block():` (CONCURRENTLY cannot run in a transaction); "
         "its downgrade drops it with postgresql_concurrently=True too",)),
    "add_unique": Rule(
        "adding a UNIQUE or PRIMARY KEY constraint builds its index while blocking writes to the table",
        ("revision 1: CREATE UNIQUE INDEX CONCURRENTLY (op.create_index(..., unique=True, "
         "postgresql_concurrently=True) in an autocommit_block)",
         "revision 2: op.execute('ALTER TABLE t ADD CONSTRAINT name UNIQUE USING INDEX name'), which is instant")),
    "add_foreign_key": Rule(
        "adding a foreign key checks every existing row while holding a lock that blocks writes to both tables",
        ("revision 1: the constraint with postgresql_not_valid=True (instant; new rows are checked)",
         "revision 2: op.execute('ALTER TABLE t VALIDATE CONSTRAINT name'), which scans without blocking writes")),
    "add_check": Rule(
        "adding a CHECK constraint scans every existing row while blocking writes to the table",
        ("revision 1: the constraint with postgresql_not_valid=True (instant; new rows are checked)",
         "revision 2: op.execute('ALTER TABLE t VALIDATE CONSTRAINT name'), which scans without blocking writes")),
    "update_all_rows": Rule(
        "an UPDATE of every row inside the migration's transaction locks each row until the whole migration "
        "commits: the serving version's writes to those rows wait, and a large table bloats at once",
        ("the revision only changes the schema; the backfill runs in batches (a few thousand rows a "
         "transaction) from a command after the release, or in an autocommit_block loop",)),
}


@dataclass(frozen=True)
class Finding:
    revision: str
    kind: str
    target: str  # table, or table.column / table.constraint

    @property
    def key(self) -> str:
        """What a revision's safe_because names to take this step on purpose."""
        return f"{self.kind} {self.target}"

    def text(self) -> str:
        rule = RULES[self.kind]
        steps = "\n".join(f"    {step}" for step in rule.releases)
        return (f"{self.revision}: {self.key}\n  why: {rule.why}\n  safe sequence:\n{steps}\n"
                f"  deliberate (a contract step whose readers are gone)? add to the revision:\n"
                f"    safe_because = {{{self.key!r}: \"why it is safe now, e.g. unused since release <label>\"}}")
