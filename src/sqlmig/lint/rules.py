"""The rule catalogue: every lint rule's id, default severity, summary and one-line fix.

Ids follow squawk's where a squawk rule means the same thing, so teams moving
over keep their waivers' vocabulary. ``docs/lint.md`` has one entry per rule
(a bad example, why, the safe form); ``tests/lint`` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)
DOCS_URL = "https://github.com/sqlmig/sqlmig/blob/main/docs/lint.md"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # the default: error or warning
    summary: str  # one line: what the rule finds
    fix: str  # one line: the safe form
    enabled: bool = True  # opt-in style rules are off until [tool.sqlmig.lint] enables them
    waivable: bool = True  # findings about waivers and syntax cannot be waived

    @property
    def help_uri(self) -> str:
        return f"{DOCS_URL}#{self.id}"


_CONCURRENTLY_FIX = "put it in its own file with `-- sqlmig: no-transaction` at the top"

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "require-concurrent-index-creation",
            ERROR,
            "CREATE INDEX without CONCURRENTLY on an existing table blocks its writes",
            f"CREATE INDEX CONCURRENTLY, and {_CONCURRENTLY_FIX}",
        ),
        Rule(
            "require-concurrent-index-deletion",
            ERROR,
            "DROP INDEX without CONCURRENTLY blocks reads and writes of its table",
            f"DROP INDEX CONCURRENTLY, and {_CONCURRENTLY_FIX}",
        ),
        Rule(
            "ban-concurrent-index-creation-in-transaction",
            ERROR,
            "CONCURRENTLY cannot run inside a transaction, and every sqlmig file is one",
            _CONCURRENTLY_FIX,
        ),
        Rule(
            "requires-no-transaction",
            ERROR,
            "a statement PostgreSQL refuses to run inside a transaction block",
            _CONCURRENTLY_FIX,
        ),
        Rule(
            "adding-required-field",
            ERROR,
            "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows",
            "add the column nullable (or with a constant DEFAULT), backfill, then SET NOT NULL",
        ),
        Rule(
            "adding-field-with-default",
            ERROR,
            "ADD COLUMN with a volatile DEFAULT rewrites the whole table under an exclusive lock",
            "add the column without the default, SET DEFAULT, then backfill in batches",
        ),
        Rule(
            "changing-column-type",
            ERROR,
            "ALTER COLUMN ... TYPE rewrites the table (and its indexes) under an exclusive lock",
            "add a new column, backfill it, switch readers and writers, then drop the old one",
        ),
        Rule(
            "adding-not-nullable-field",
            ERROR,
            "SET NOT NULL scans the whole table under an exclusive lock",
            "first ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID and VALIDATE it",
        ),
        Rule(
            "constraint-missing-not-valid",
            ERROR,
            "a FOREIGN KEY or CHECK added without NOT VALID is validated under a blocking lock",
            "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later statement",
        ),
        Rule(
            "disallowed-unique-constraint",
            ERROR,
            "ADD UNIQUE builds its index while blocking reads and writes",
            "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX",
        ),
        Rule(
            "adding-primary-key-constraint",
            ERROR,
            "ADD PRIMARY KEY builds its index while blocking reads and writes",
            "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD PRIMARY KEY USING INDEX",
        ),
        Rule(
            "ban-drop-table",
            ERROR,
            "DROP TABLE breaks code that still reads or writes the table",
            "stop using the table in a deploy first; drop it in a later migration",
        ),
        Rule(
            "ban-drop-column",
            ERROR,
            "DROP COLUMN breaks code that still selects or inserts the column",
            "stop using the column in a deploy first; drop it in a later migration",
        ),
        Rule(
            "renaming-table",
            ERROR,
            "RENAME of a table breaks code that uses the old name",
            "create the new table (or a view under the old name) and move code over first",
        ),
        Rule(
            "renaming-column",
            ERROR,
            "RENAME COLUMN breaks code that uses the old name",
            "add the new column, write both, backfill, move readers, then drop the old one",
        ),
        Rule(
            "ban-truncate-cascade",
            ERROR,
            "TRUNCATE ... CASCADE also empties every table that references it",
            "TRUNCATE the tables you mean by name, without CASCADE",
        ),
        Rule(
            "ban-vacuum-full",
            ERROR,
            "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock",
            "plain VACUUM, or pg_repack / pg_squeeze outside the migration",
        ),
        Rule(
            "ban-cluster",
            ERROR,
            "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock",
            "pg_repack --order-by outside the migration, or leave the order alone",
        ),
        Rule(
            "require-lock-timeout",
            WARNING,
            "a blocking ALTER with no lock_timeout queues every query behind it while it waits",
            "SET lock_timeout = '5s'; earlier in the file (and retry the file when it times out)",
        ),
        Rule(
            "raise-placeholder-mismatch",
            ERROR,
            "RAISE has a different number of % placeholders than arguments",
            "give RAISE one argument per % (write %% for a literal percent sign)",
        ),
        Rule(
            "identifier-too-long",
            ERROR,
            "an identifier over 63 bytes is silently truncated by PostgreSQL",
            "use a name of at most 63 bytes (two long names may truncate to the same one)",
        ),
        Rule(
            "ban-char-field",
            WARNING,
            "char(n) pads with spaces and is no faster than text",
            "text (or varchar) with a CHECK (length(col) <= n) if the limit matters",
            enabled=False,
        ),
        Rule(
            "prefer-timestamptz",
            WARNING,
            "timestamp without time zone loses the offset; comparisons shift with the session",
            "timestamptz",
            enabled=False,
        ),
        Rule(
            "prefer-bigint-primary-key",
            WARNING,
            "an int or smallint primary key runs out (2^31 rows is reachable)",
            "bigint GENERATED ALWAYS AS IDENTITY",
            enabled=False,
        ),
        Rule(
            "prefer-identity",
            WARNING,
            "serial is a legacy sequence default; identity columns are the standard form",
            "bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT)",
            enabled=False,
        ),
        Rule(
            "waiver-missing-reason",
            ERROR,
            'a lint-ignore waiver without reason="..."',
            'say why: -- sqlmig: lint-ignore RULE reason="..."',
            waivable=False,
        ),
        Rule(
            "invalid-waiver",
            ERROR,
            "a lint-ignore waiver that names no rule or an unknown one",
            'name a rule id: -- sqlmig: lint-ignore RULE reason="..."',
            waivable=False,
        ),
        Rule(
            "unused-waiver",
            WARNING,
            "a lint-ignore waiver that waives nothing",
            "delete it, or put it on the line right above the statement it is for",
            waivable=False,
        ),
        Rule(
            "syntax-error",
            ERROR,
            "the file does not parse, so nothing else in it was checked",
            "fix the SQL at the position shown",
            waivable=False,
        ),
    )
}

#: The opt-in style rules (:mod:`sqlmig.lint.style`).
STYLE_RULES = (
    "ban-char-field",
    "prefer-timestamptz",
    "prefer-bigint-primary-key",
    "prefer-identity",
)
