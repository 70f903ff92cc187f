"""The hazard rules: statements that lock, rewrite, break running code or cannot run in a file.

One function per statement kind (the parse tree's node name), each reporting
through the :class:`~sqlmig.lint.context.Context`. A table created earlier in
the run is nobody's yet, so the locking rules leave it alone.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmig.lint import nodes, style
from sqlmig.lint.context import Context
from sqlmig.lint.nodes import Node

Check = Callable[[Node, Context], None]

#: Statements PostgreSQL refuses inside a transaction block (besides CONCURRENTLY).
_NO_TRANSACTION = {
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
    "DropSubscriptionStmt": "DROP SUBSCRIPTION",
}


def _no_transaction(what: str) -> Check:
    def check(node: Node, ctx: Context) -> None:
        if ctx.transactional:
            ctx.report(
                "requires-no-transaction",
                None,
                f"{what} cannot run inside a transaction block, and this file runs in one",
            )

    return check


def _concurrently(ctx: Context, what: str) -> bool:
    """Report CONCURRENTLY in a transactional file; True when it was reported."""
    if ctx.transactional:
        ctx.report(
            "ban-concurrent-index-creation-in-transaction",
            None,
            f"{what} CONCURRENTLY cannot run inside a transaction block, and this file runs in one",
        )
        return True
    return False


def _blocking(ctx: Context, table: str | None, what: str) -> None:
    """A lock-taking statement on an existing table: wanted a lock_timeout first."""
    if not ctx.run.existing(table) or ctx.lock_timeout or ctx.lock_timeout_reported:
        return
    ctx.lock_timeout_reported = True  # one per file: the fix is one line at the top
    ctx.report(
        "require-lock-timeout",
        None,
        f"{what} on {table} waits for its lock with no lock_timeout set earlier in the file",
    )


def create_table(node: Node, ctx: Context) -> None:
    table = nodes.relname(node.get("relation"))
    if ctx.style:
        style.create_table(node, ctx)
    if table:
        ctx.run.created.add(table)


def create_table_as(node: Node, ctx: Context) -> None:
    table = nodes.relname((node.get("into") or {}).get("rel"))
    if table:
        ctx.run.created.add(table)


def create_index(node: Node, ctx: Context) -> None:
    table = nodes.relname(node.get("relation"))
    if node.get("concurrent"):
        _concurrently(ctx, "CREATE INDEX")
    elif ctx.run.existing(table):
        ctx.report(
            "require-concurrent-index-creation",
            None,
            f"CREATE INDEX on existing table {table} blocks its writes until the index is built",
        )


def drop(node: Node, ctx: Context) -> None:
    kind = node.get("removeType")
    if kind == "OBJECT_INDEX":
        if node.get("concurrent"):
            _concurrently(ctx, "DROP INDEX")
        else:
            ctx.report(
                "require-concurrent-index-deletion",
                None,
                "DROP INDEX takes an ACCESS EXCLUSIVE lock on its table, blocking reads",
            )
    elif kind == "OBJECT_TABLE":
        for item in node.get("objects") or ():
            names = nodes.strings((item.get("List") or {}).get("items"))
            if names and ctx.run.existing(names[-1]):
                ctx.report(
                    "ban-drop-table",
                    None,
                    f"DROP TABLE {'.'.join(names)} breaks code that still uses it",
                )


def rename(node: Node, ctx: Context) -> None:
    table = nodes.relname(node.get("relation"))
    kind = node.get("renameType")
    if not ctx.run.existing(table):
        return
    if kind == "OBJECT_TABLE":
        ctx.report(
            "renaming-table",
            None,
            f"renaming table {table} to {node.get('newname')} breaks code that uses the old name",
        )
    elif kind == "OBJECT_COLUMN":
        ctx.report(
            "renaming-column",
            None,
            f"renaming column {table}.{node.get('subname')} to {node.get('newname')} "
            "breaks code that uses the old name",
        )
    else:
        return
    _blocking(ctx, table, "RENAME")


def alter_table(node: Node, ctx: Context) -> None:
    if node.get("objtype") not in ("OBJECT_TABLE", None):
        return
    table = nodes.relname(node.get("relation"))
    existing = ctx.run.existing(table)
    for item in node.get("cmds") or ():
        cmd = item.get("AlterTableCmd") or {}
        subtype = cmd.get("subtype")
        definition = cmd.get("def") or {}
        if subtype == "AT_AddColumn":
            column = definition.get("ColumnDef") or {}
            if ctx.style:
                style.column(column, ctx, table)
            if existing:
                _add_column(str(table), column, ctx)
        elif subtype == "AT_AddConstraint":
            _add_constraint(str(table), definition.get("Constraint") or {}, existing, ctx)
        elif subtype == "AT_ValidateConstraint":
            columns = ctx.run.unvalidated.pop((str(table), str(cmd.get("name"))), set())
            ctx.run.proven_not_null |= {(str(table), c) for c in columns}
        elif subtype == "AT_AlterColumnType":
            if ctx.style:
                style.column(definition.get("ColumnDef") or {}, ctx, table)
            if existing:
                ctx.report(
                    "changing-column-type",
                    None,
                    f"changing the type of {table}.{cmd.get('name')} rewrites the table "
                    "and its indexes under an ACCESS EXCLUSIVE lock",
                )
        elif subtype == "AT_SetNotNull":
            if existing and (table, cmd.get("name")) not in ctx.run.proven_not_null:
                ctx.report(
                    "adding-not-nullable-field",
                    None,
                    f"SET NOT NULL on {table}.{cmd.get('name')} scans the whole table under an "
                    "ACCESS EXCLUSIVE lock (no validated CHECK (... IS NOT NULL) before it)",
                )
        elif subtype == "AT_DropColumn":
            if existing:
                ctx.report(
                    "ban-drop-column",
                    None,
                    f"dropping column {table}.{cmd.get('name')} breaks code that still uses it",
                )
        elif subtype == "AT_DetachPartition" and (definition.get("PartitionCmd") or {}).get(
            "concurrent"
        ):
            _concurrently(ctx, "DETACH PARTITION")
    _blocking(ctx, table, "ALTER TABLE")


def _add_column(table: str, column: Node, ctx: Context) -> None:
    name = f"{table}.{column.get('colname')}"
    where = column.get("location")
    types = nodes.constraint_types(column)
    default = nodes.default_expression(column)
    volatile = nodes.volatile_call(default)
    serial = nodes.is_serial(nodes.type_names(column))
    fills = bool(types & {"CONSTR_IDENTITY", "CONSTR_GENERATED"})
    if volatile is not None:
        function = ".".join(nodes.strings(volatile.get("funcname")))
        ctx.report(
            "adding-field-with-default",
            volatile.get("location"),
            f"adding {name} with the volatile default {function}() rewrites the whole table",
        )
    elif serial or fills:
        ctx.report(
            "adding-field-with-default",
            where,
            f"adding {name} as serial, identity or generated fills every row: a table rewrite",
        )
    if "CONSTR_NOTNULL" in types and default is None and not (serial or fills):
        ctx.report(
            "adding-required-field",
            where,
            f"adding {name} NOT NULL without a DEFAULT fails as soon as the table has a row",
        )
    for constraint in nodes.constraints(column):
        kind = constraint.get("contype")
        if kind in ("CONSTR_FOREIGN", "CONSTR_CHECK"):
            what = "REFERENCES" if kind == "CONSTR_FOREIGN" else "CHECK"
            ctx.report(
                "constraint-missing-not-valid",
                constraint.get("location"),
                f"{what} on the new column {name} is validated under the ALTER's lock; "
                "add the column, then the constraint NOT VALID",
            )
        elif kind == "CONSTR_UNIQUE":
            _unique(table, constraint, ctx)
        elif kind == "CONSTR_PRIMARY":
            _primary_key(table, constraint, ctx)


def _add_constraint(table: str, constraint: Node, existing: bool, ctx: Context) -> None:
    kind = constraint.get("contype")
    where = constraint.get("location")
    validated = not constraint.get("skip_validation")
    if kind == "CONSTR_CHECK":
        columns = nodes.not_null_columns(constraint.get("raw_expr"))
        if validated:
            ctx.run.proven_not_null |= {(table, c) for c in columns}
        elif columns and constraint.get("conname"):
            ctx.run.unvalidated[(table, str(constraint["conname"]))] = columns
    if not existing:
        return
    if kind in ("CONSTR_FOREIGN", "CONSTR_CHECK") and validated:
        what = "FOREIGN KEY" if kind == "CONSTR_FOREIGN" else "CHECK"
        ctx.report(
            "constraint-missing-not-valid",
            where,
            f"{what} on {table} without NOT VALID checks every row while holding its lock",
        )
    elif kind == "CONSTR_UNIQUE" and not constraint.get("indexname"):
        _unique(table, constraint, ctx)
    elif kind == "CONSTR_PRIMARY" and not constraint.get("indexname"):
        _primary_key(table, constraint, ctx)


def _unique(table: str, constraint: Node, ctx: Context) -> None:
    ctx.report(
        "disallowed-unique-constraint",
        constraint.get("location"),
        f"UNIQUE on {table} builds its index under an ACCESS EXCLUSIVE lock",
    )


def _primary_key(table: str, constraint: Node, ctx: Context) -> None:
    ctx.report(
        "adding-primary-key-constraint",
        constraint.get("location"),
        f"PRIMARY KEY on {table} builds its index under an ACCESS EXCLUSIVE lock",
    )


def truncate(node: Node, ctx: Context) -> None:
    if node.get("behavior") == "DROP_CASCADE":
        tables = ", ".join(
            str(nodes.relname(r.get("RangeVar"))) for r in node.get("relations") or ()
        )
        ctx.report(
            "ban-truncate-cascade",
            None,
            f"TRUNCATE {tables} CASCADE also empties every table with a foreign key to it",
        )


def vacuum(node: Node, ctx: Context) -> None:
    if not node.get("is_vacuumcmd"):
        return  # ANALYZE runs anywhere
    if "full" in nodes.def_names(node.get("options")):
        ctx.report(
            "ban-vacuum-full", None, "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock"
        )
    _no_transaction("VACUUM")(node, ctx)


def cluster(node: Node, ctx: Context) -> None:
    ctx.report("ban-cluster", None, "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock")
    if not node.get("relation"):
        _no_transaction("CLUSTER without a table name")(node, ctx)


def reindex(node: Node, ctx: Context) -> None:
    if "concurrently" in nodes.def_names(node.get("params")):
        _concurrently(ctx, "REINDEX")
    elif node.get("kind") in ("REINDEX_OBJECT_SYSTEM", "REINDEX_OBJECT_DATABASE"):
        _no_transaction("REINDEX SYSTEM/DATABASE")(node, ctx)


def settings(kind: str) -> Check:
    def check(node: Node, ctx: Context) -> None:
        if not ctx.mentions_lock_timeout:
            return  # nearly every file: no need to look inside its SELECTs
        value = nodes.sets_lock_timeout(kind, node)
        if value is not None:
            ctx.lock_timeout = value

    return check


CHECKS: dict[str, list[Check]] = {
    "CreateStmt": [create_table],
    "CreateTableAsStmt": [create_table_as],
    "IndexStmt": [create_index],
    "DropStmt": [drop],
    "RenameStmt": [rename],
    "AlterTableStmt": [alter_table],
    "TruncateStmt": [truncate],
    "VacuumStmt": [vacuum],
    "ClusterStmt": [cluster],
    "ReindexStmt": [reindex],
    "VariableSetStmt": [settings("VariableSetStmt")],
    "SelectStmt": [settings("SelectStmt")],
    **{kind: [_no_transaction(what)] for kind, what in _NO_TRANSACTION.items()},
}
