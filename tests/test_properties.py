"""Property tests for the edge (issue #12 point 9): the untrusted-JSON validator and the query
parsers, over generated values, on the real database and behind real HTTP.

Deterministic: every test runs the same examples each time (``derandomize``, no example
database). The HTTP properties build their data once per test and query it from an inner
``@given`` function, so hypothesis needs no exception for function-scoped fixtures.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from labelpilot.api.untrusted import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_FREE_JSON_BYTES,
    check_free_json,
    check_json,
)
from labelpilot.datasets.tables import Dataset, Sample
from labelpilot.db import Database
from labelpilot.errors import BadRequest
from tests.support.factories import insert_task, make_dataset

# No deadline: an example is an HTTP request on a shared 2-core machine, whose latency varies.
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=150)
HTTP_PROPERTY = settings(PROPERTY, max_examples=80)

SPECIAL_TEXT = ["", "\x00", "a\x00b", "\ud800", "x\udfffy", "\ud83d\ude00", "é", "%", "_", "\\"]
texts = st.text(st.characters(exclude_categories=()), max_size=8) | st.sampled_from(SPECIAL_TEXT)
# what a query string can carry: percent-encoded UTF-8, so no lone surrogate
wire_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=8) | st.sampled_from(
    [t for t in SPECIAL_TEXT if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]
)
ints = (
    st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([INT64_MIN, INT64_MAX, INT64_MIN - 1, INT64_MAX + 1, 2**64, -(2**100)])
)
floats = st.floats() | st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324])
scalars = st.none() | st.booleans() | ints | floats | texts
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=16,
)


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _bad_text(text: str) -> bool:
    return "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def problems(value: Any, where: str = "", depth: int = 0) -> set[str]:
    """The oracle: the paths of every value the stores cannot take (recursively, not by a stack)."""
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, int):
        return set() if INT64_MIN <= value <= INT64_MAX else {where}
    if isinstance(value, float):
        return set() if math.isfinite(value) else {where}
    if isinstance(value, str):
        return {where} if _bad_text(value) else set()
    if depth >= MAX_DEPTH:
        return {where}
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    found: set[str] = set()
    for key, child in pairs:
        if isinstance(key, str) and _bad_text(key):
            found.add(where)
        found |= problems(child, _path(where, key), depth + 1)
    return found


def _refused_field(exc: BadRequest) -> str:
    prefix = "Invalid parameter "
    assert exc.error_code == "ModelArts.0104" and exc.status_code == 400
    assert exc.error_msg.startswith(prefix), exc.error_msg
    return exc.error_msg[len(prefix) :].rsplit(": ", 1)[0]


@PROPERTY
@given(json_values)
def test_the_validator_accepts_exactly_what_can_be_stored(value: Any) -> None:
    bad = problems(value, "property")
    try:
        check_json(value, "property")
    except BadRequest as exc:
        assert bad, f"refused a storable value: {exc.error_msg}"
        assert _refused_field(exc) in bad
        return
    assert not bad
    # accepted: what the API renders (orjson) and what the stores keep (json) read back the same
    assert orjson.loads(orjson.dumps(value)) == value
    assert json.loads(json.dumps(value, allow_nan=False)) == value


@PROPERTY
@given(ints)
def test_every_int64_is_accepted_and_nothing_outside(n: int) -> None:
    inside = INT64_MIN <= n <= INT64_MAX
    try:
        check_json({"k": [n]}, "config")
    except BadRequest as exc:
        assert not inside and _refused_field(exc) == "config.k[0]"
    else:
        assert inside


@PROPERTY
@given(floats)
def test_every_finite_float_is_accepted_and_nothing_else(x: float) -> None:
    try:
        check_json([x])
    except BadRequest as exc:
        assert not math.isfinite(x) and _refused_field(exc) == "[0]"
    else:
        assert math.isfinite(x)


@PROPERTY
@given(st.integers(min_value=0, max_value=3 * MAX_DEPTH), st.booleans())
def test_nesting_is_accepted_up_to_its_limit(depth: int, in_dicts: bool) -> None:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value} if in_dicts else [value]
    try:
        check_json(value)
    except BadRequest as exc:
        assert depth > MAX_DEPTH and "nested deeper" in exc.error_msg
    else:
        assert depth <= MAX_DEPTH


@PROPERTY
@given(st.integers(min_value=0, max_value=MAX_FREE_JSON_BYTES + 64), st.sampled_from("aé😀"))
def test_free_form_values_are_bounded_by_their_json_size(n: int, char: str) -> None:
    value = {"k": char * (n // len(char.encode()))}
    size = len(orjson.dumps(value))
    try:
        check_free_json(value, "metadata")
    except BadRequest as exc:
        assert size > MAX_FREE_JSON_BYTES and _refused_field(exc) == "metadata"
    else:
        assert size <= MAX_FREE_JSON_BYTES


def test_accepted_values_round_trip_through_the_database(
    client: TestClient, db: Database, project: str, auth: dict[str, str]
) -> None:
    """What the validator accepts, a JSON column of this engine stores and gives back exactly."""
    dataset_id = make_dataset(client, project, auth)

    @PROPERTY
    @given(json_values)
    def round_trip(value: Any) -> None:
        try:
            check_json(value)
        except BadRequest:
            return
        with db.transaction() as s:
            s.execute(update(Dataset).where(Dataset.id == dataset_id).values(data_sources=[value]))
        with db.read() as s:
            (stored,) = s.scalar(select(Dataset.data_sources).where(Dataset.id == dataset_id))
        assert stored == value
        assert orjson.dumps(stored) == orjson.dumps(value)  # same types: 1 is not 1.0 nor true

    round_trip()


def _raw_json(value: Any) -> bytes:
    """What a hostile client may send: NaN, Infinity, huge integers, lone-surrogate escapes."""
    return json.dumps(value).encode()


def _modelarts_400(r: Any) -> str:
    assert r.status_code == 400, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error_code", "error_msg"} and body["error_code"].startswith("ModelArts.")
    return str(body["error_msg"])


def test_label_properties_over_http_are_stored_exactly_or_refused_naming_the_field(
    client: TestClient, project: str, auth: dict[str, str]
) -> None:
    dataset = make_dataset(client, project, auth)
    labels = f"/v2/{project}/datasets/{dataset}/data-annotations/labels"
    headers = {**auth, "Content-Type": "application/json"}
    created: list[int] = []

    @HTTP_PROPERTY
    @given(json_values)
    def create(value: Any) -> None:
        name = f"label-{len(created)}"
        body = {"labels": [{"name": name, "property": {"k": value}}]}
        r = client.post(labels, content=_raw_json(body), headers=headers)
        bad = problems(value, "labels[0].property.k")
        if not bad:
            assert r.status_code == 200, r.text
            created.append(1)
            listed = {lb["name"]: lb for lb in client.get(labels, headers=auth).json()["labels"]}
            assert orjson.dumps(listed[name]["property"]) == orjson.dumps({"k": value})
            return
        message = _modelarts_400(r)
        assert any(message.startswith(f"Invalid parameter {field}: ") for field in bad), message

    create()


INT_TEXT = st.integers(min_value=-(2**70), max_value=2**70).map(str) | wire_texts


def _int_or_none(text: str) -> int | None:
    """The canonical decimal integers (what any parser must take); None for anything else."""
    try:
        n = int(text)
    except ValueError:
        return None
    return n if str(n) == text else None


PAGED_LISTS = [
    ("/v2/{p}/datasets", "limit", 1, 100),
    ("/v2/{p}/datasets", "offset", 0, INT32_MAX),
    ("/v2/{p}/datasets", "dataset_type", INT32_MIN, INT32_MAX),
    ("/v2/{p}/datasets/{d}/data-annotations/samples", "limit", 1, 100),
    ("/v2/{p}/datasets/{d}/data-annotations/samples", "offset", 0, INT32_MAX),
    ("/v2/{p}/datasets/{d}/data-annotations/samples", "label_type", INT32_MIN, INT32_MAX),
    ("/v2/{p}/datasets/{d}/auto-annotations/samples", "label_type", INT32_MIN, INT32_MAX),
    ("/v2/{p}/datasets/{d}/tasks", "limit", 1, 100),
    ("/v2/{p}/datasets/{d}/tasks", "offset", 0, INT32_MAX),
    ("/v1/{p}/models", "offset", 0, INT32_MAX),
    ("/v1/{p}/services", "limit", 1, 100),
]


@pytest.mark.parametrize(("path", "param", "low", "high"), PAGED_LISTS)
def test_integer_query_values_answer_200_in_range_and_400_otherwise(
    client: TestClient,
    project: str,
    auth: dict[str, str],
    path: str,
    param: str,
    low: int,
    high: int,
) -> None:
    url = path.format(p=project, d=make_dataset(client, project, auth))

    @settings(PROPERTY, max_examples=40)
    @given(INT_TEXT)
    def query(text: str) -> None:
        r = client.get(url, params={param: text}, headers=auth)
        n = _int_or_none(text)
        if n is not None:
            expected = 200 if low <= n <= high else 400
            assert r.status_code == expected, (text, r.status_code, r.text)
        if r.status_code != 200:
            assert param in _modelarts_400(r)

    query()


conditions = st.dictionaries(
    st.sampled_from(
        [
            "sample_name",
            "sample_dir",
            "hard",
            "score",
            "coefficient",
            "label_list",
            "metadata",
            "kvp",
            "unknown_field",
        ]
    ),
    json_values
    | st.fixed_dictionaries(
        {"labels": st.lists(st.dictionaries(st.sampled_from(["name", "type"]), scalars))},
        optional={"op": texts},
    )
    | st.fixed_dictionaries({"props": st.dictionaries(texts, st.lists(scalars))}),
    max_size=4,
)
search_values = (
    st.lists(conditions, max_size=3).map(_raw_json).map(bytes.decode)
    | conditions.map(_raw_json).map(bytes.decode)
    | json_values.map(_raw_json).map(bytes.decode)
    | wire_texts
)


def test_search_conditions_answer_200_or_a_modelarts_400(
    client: TestClient, project: str, auth: dict[str, str]
) -> None:
    dataset = make_dataset(client, project, auth)
    url = f"/v2/{project}/datasets/{dataset}/data-annotations/samples"

    @settings(HTTP_PROPERTY, max_examples=200)
    @given(search_values, st.sampled_from([None, "__ALL__", "x", ""]))
    def search(raw: str, state: str | None) -> None:
        params = {"search_conditions": raw, **({"sample_state": state} if state else {})}
        r = client.get(url, params=params, headers=auth)
        assert r.status_code in (200, 400), (raw, r.status_code, r.text)
        if r.status_code == 400:
            _modelarts_400(r)

    search()


def test_task_type_answers_200_or_a_modelarts_400(
    client: TestClient, project: str, auth: dict[str, str]
) -> None:
    dataset = make_dataset(client, project, auth)
    url = f"/v2/{project}/datasets/{dataset}/tasks"

    @HTTP_PROPERTY
    @given(wire_texts | st.sampled_from(["auto-label", "AUTO-LABEL", " auto-label", "0", "null"]))
    def kinds(task_type: str) -> None:
        listed = client.get(url, params={"type": task_type}, headers=auth)
        created = client.post(url, content=_raw_json({"task_type": task_type}), headers=auth)
        for r in (listed, created):
            assert r.status_code in (200, 400), (task_type, r.status_code, r.text)
            if r.status_code == 400:
                _modelarts_400(r)
        if task_type == "":
            assert created.status_code == 400

    kinds()


# Names whose lower case SQL and Python agree on (ASCII, and characters without case): LIKE's
# wildcards and its escape character among them.
NAME_CHARS = "aAbB_%\\-.中"
search_texts = st.text(st.sampled_from(NAME_CHARS), min_size=1, max_size=4)


def test_task_name_search_is_a_literal_substring_match(
    client: TestClient, db: Database, project: str, auth: dict[str, str]
) -> None:
    dataset = make_dataset(client, project, auth)
    names = ["a%b", "a_b", "axb", "A\\B", "a\\\\b", "%", "_", "\\", "中_文", "ab-.", "B%_\\"]
    for name in names:
        insert_task(db, project=project, dataset_id=dataset, type=0, status=3, name=name)
    url = f"/v2/{project}/datasets/{dataset}/tasks"

    @PROPERTY
    @given(search_texts | st.sampled_from(names))
    def search(text: str) -> None:
        r = client.get(url, params={"task_name": text, "limit": 100}, headers=auth)
        assert r.status_code == 200, r.text
        found = sorted(t["task_name"] for t in r.json()["tasks"])
        assert found == sorted(n for n in names if text.lower() in n.lower()), text

    search()


def test_dataset_search_content_is_a_literal_substring_match(
    client: TestClient, project: str, auth: dict[str, str]
) -> None:
    names = ["a_b", "axb", "A-B", "ab", "_", "a__b", "B_a-"]
    for name in names:
        make_dataset(client, project, auth, name)
    url = f"/v2/{project}/datasets"

    @PROPERTY
    @given(search_texts | st.sampled_from(names))
    def search(text: str) -> None:
        r = client.get(url, params={"search_content": text, "limit": 100}, headers=auth)
        assert r.status_code == 200, r.text
        found = sorted(d["dataset_name"] for d in r.json()["datasets"])
        assert found == sorted(n for n in names if text.lower() in n.lower()), text

    search()


def test_sample_name_condition_matches_the_name_or_its_last_path_parts_literally(
    client: TestClient, db: Database, project: str, auth: dict[str, str]
) -> None:
    """``sample_name`` is the whole name or a tail after a ``/`` (case-sensitive, no wildcards)."""
    dataset = make_dataset(client, project, auth)
    names = ["a%b", "a_b", "axb", "d/a_b", "d/axb", "A_B", "e/f/%", "e/F/_", "x%/a", "中/a%"]
    data = base64.b64encode(b"text").decode()
    url = f"/v2/{project}/datasets/{dataset}/data-annotations/samples"
    samples = [{"name": n, "data": data, "sample_type": 1} for n in names]
    r = client.post(url, json={"samples": samples}, headers=auth)
    assert r.status_code == 200, r.text
    with db.read() as s:  # the answer names a sample by its last path part only
        name_of = dict(s.execute(select(Sample.id, Sample.name)).all())

    @PROPERTY
    @given(st.text(st.sampled_from("aAbBxX_%/中"), min_size=1, max_size=5) | st.sampled_from(names))
    def search(text: str) -> None:
        conditions = json.dumps([{"sample_name": text}])
        r = client.get(url, params={"search_conditions": conditions, "limit": 100}, headers=auth)
        assert r.status_code == 200, r.text
        found = sorted(name_of[s["sample_id"]] for s in r.json()["samples"])
        assert found == sorted(n for n in names if n == text or n.endswith("/" + text)), text

    search()
