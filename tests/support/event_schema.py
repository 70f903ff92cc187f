"""A validator for the published progress event schema (sqlmig/progress/event.schema.json)."""

from __future__ import annotations

import jsonschema

from sqlmig.progress.events import event_schema


def schema_validator() -> jsonschema.protocols.Validator:
    """A validator of the schema's own draft, checking formats too; the schema is checked first."""
    schema = event_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)
