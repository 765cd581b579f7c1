"""The response models carry every field of the seed's tables, with the documented JSON types."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from labelpilot.api import schemas
from tests.support.seed import seed_example, seed_tables

SCALARS = {
    "String": "string",
    "Integer": "integer",
    "Long": "integer",
    "Float": "number",
    "Double": "number",
    "Boolean": "boolean",
}


@cache
def _schema(model: type) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(by_alias=True, mode="serialization")  # type: ignore[attr-defined]
    if "$ref" in schema:  # recursive models put themselves in $defs
        schema = schema["$defs"][_ref_name(schema)]
    return schema


def _prop_schema(model: type, field: str) -> dict[str, Any]:
    prop = _schema(model)["properties"].get(field)
    assert prop is not None, f"{model.__name__} has no field {field}"
    # unwrap Optional: anyOf [X, null]
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    assert len(options) == 1, f"{model.__name__}.{field}: ambiguous schema {prop}"
    return options[0]


def _ref_name(p: dict[str, Any]) -> str:
    return p["$ref"].rsplit("/", 1)[-1]


def expected_matches(seed_type: str, p: dict[str, Any]) -> bool:
    if seed_type in SCALARS:
        return p.get("type") == SCALARS[seed_type]
    if seed_type.endswith(" object"):
        return "$ref" in p and _ref_name(p) == seed_type[: -len(" object")]
    if seed_type.startswith("Array of ") and seed_type.endswith(" objects"):
        inner = seed_type[len("Array of ") : -len(" objects")]
        return p.get("type") == "array" and _ref_name(p["items"]) == inner
    if seed_type == "Array of strings":
        return p.get("type") == "array" and p["items"].get("type") == "string"
    if seed_type == "Array of integers":
        return p.get("type") == "array" and p["items"].get("type") == "integer"
    if seed_type.startswith("Map<"):
        return p.get("type") == "object"
    if seed_type == "Array<Object>":
        return p.get("type") == "array"
    if seed_type == "Object":
        return "type" not in p or p.get("type") in ("object", "array")
    raise AssertionError(f"unknown seed type {seed_type!r}")


CASES = [(table, f, t) for table, fields in seed_tables().items() for f, t in fields.items()]


def test_seed_tables_were_read() -> None:
    tables = seed_tables()
    assert {"ListTasksResponse", "RunningTask", "SmartTaskConfig", "Result", "Event"} <= set(tables)
    assert len(tables["RunningTask"]) == 21
    assert len(CASES) > 150


@pytest.mark.parametrize(("table", "field", "seed_type"), CASES)
def test_field_has_seed_type(table: str, field: str, seed_type: str) -> None:
    model = getattr(schemas, table)
    assert expected_matches(seed_type, _prop_schema(model, field)), (
        f"{table}.{field}: seed says {seed_type}, model says {_prop_schema(model, field)}"
    )


def test_seed_example_validates_against_response_model() -> None:
    example = seed_example()
    parsed = schemas.ListTasksResponse.model_validate(example)
    assert parsed.total_count == 2
    assert parsed.tasks[0].result is not None
    assert parsed.tasks[0].result.hard_select_tasks is not None
    assert parsed.tasks[0].result.hard_select_tasks[0].task_status == "import_dataset_completed"
    assert parsed.tasks[0].config is not None
    assert parsed.tasks[0].config.inf_config_list is not None
    # round trip keeps every value of the example
    again = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert again == example
