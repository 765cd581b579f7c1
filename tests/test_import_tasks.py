"""Import tasks and sync through the API, run by a worker: per-file failures instead of an
aborted import, content-hash deduplication, dataset create that answers at once, bad input, and
lossless round trips (export -> download -> import into a new dataset) per format."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update

from labelpilot.datasets.tables import Sample
from labelpilot.db import Database
from labelpilot.samples.service import content_hash
from tests.support.datafiles import box, image_b64, make_typed, text
from tests.support.flow import post_samples, run_queued


def _png(color: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _import(client: TestClient, project: str, ds: str, auth: dict[str, str], **body: Any) -> Any:
    return client.post(f"/v2/{project}/datasets/{ds}/import-tasks", json=body, headers=auth)


def _status(client: TestClient, project: str, ds: str, auth: dict[str, str], tid: str) -> Any:
    r = client.get(f"/v2/{project}/datasets/{ds}/import-tasks/{tid}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def _done(client, db, settings, project, ds, auth, **body):  # type: ignore[no-untyped-def]
    r = _import(client, project, ds, auth, **body)
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    return _status(client, project, ds, auth, r.json()["task_id"])


def _canonical(db: Database, ds: str, *, scores: bool = True, usage: bool = True) -> list[Any]:
    """A dataset's samples as (content hash, labels, usage), order-free, boxes to 1e-3 px."""
    out = []
    with db.read() as s:
        for sample in s.scalars(select(Sample).where(Sample.dataset_id == ds)):
            labels = []
            for lb in sample.labels:
                feature = (lb.property or {}).get("@modelarts:feature")
                shape = (
                    tuple(round(float(v), 3) for point in feature for v in point)
                    if feature
                    else None
                )
                score = round(lb.score, 6) if scores and lb.score is not None else None
                labels.append((lb.name, lb.type, score, shape))
            out.append(
                (
                    sample.content_hash,
                    tuple(sorted(labels, key=repr)),
                    sample.sample_usage if usage else None,
                )
            )
    return sorted(out, key=repr)


# -- per-file failures, dedupe, the quick answer ---------------------------------------------


def test_two_corrupt_files_of_200_are_listed_and_198_imported(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    src = tmp_path / "animals"
    for i in range(198):
        p = src / ("cat" if i % 2 else "dog") / f"{i:03d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_png((i, 255 - i, 7)))
    (src / "cat" / "broken.png").write_bytes(_png((1, 1, 1))[:40])  # truncated
    (src / "dog" / "noise.jpg").write_bytes(b"not a jpeg at all" * 10)
    ds = make_typed(client, project, auth, "animals", 0)
    began = time.monotonic()
    r = _import(client, project, ds, auth, import_path=str(src), import_type="dir")
    answered = time.monotonic() - began
    assert r.status_code == 200, r.text
    assert answered < 1.0  # the request only queues the task
    tid = r.json()["task_id"]
    assert _status(client, project, ds, auth, tid)["status"] == "QUEUING"
    run_queued(settings, db)
    status = _status(client, project, ds, auth, tid)
    assert status["status"] == "COMPLETED", status
    assert status["imported_sample_count"] == 198
    assert status["annotated_sample_count"] == 198
    assert status["failed_file_count"] == 2
    failed = {f["file"]: f["reason"] for f in status["failures"]}
    assert set(failed) == {"cat/broken.png", "dog/noise.jpg"}
    assert all("decode" in why or "image" in why.lower() for why in failed.values()), failed
    assert status["import_type"] == 0 and status["import_path"] == str(src)
    got = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert got["total_sample_count"] == 198 and got["annotated_sample_count"] == 198
    assert sorted(lb["name"] for lb in got["labels"]) == ["cat", "dog"]

    # the same folder again adds nothing: every file's bytes are already a sample
    again = _done(client, db, settings, project, ds, auth, import_path=str(src))
    assert again["status"] == "COMPLETED", again
    assert again["imported_sample_count"] == 0 and again["duplicate_sample_count"] == 198
    assert (
        client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()["total_sample_count"] == 198
    )
    # the list, newest first, pages with marker as openstacksdk does
    listed = client.get(f"/v2/{project}/datasets/{ds}/import-tasks", headers=auth).json()
    assert listed["total_count"] == 2 and listed["import_tasks"][1]["task_id"] == tid
    first = listed["import_tasks"][0]["task_id"]
    after = client.get(
        f"/v2/{project}/datasets/{ds}/import-tasks?limit=1&marker={first}", headers=auth
    ).json()
    assert [t["task_id"] for t in after["import_tasks"]] == [tid]


def test_dataset_create_with_data_sources_answers_at_once_and_imports_in_a_task(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    src = tmp_path / "texts"
    src.mkdir()
    for i in range(5):
        (src / f"{i}.txt").write_text(f"review number {i}")
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "reviews", "data_sources": [{"data_type": 0, "data_path": str(src)}]},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    ds, tid = r.json()["dataset_id"], r.json()["import_task_id"]
    shown = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert shown["total_sample_count"] == 0 and tid in shown["running_tasks_id"]
    assert shown["status"] == 8  # importing (DATA_MANAGEMENT §5.1)
    listed = client.get(f"/v2/{project}/datasets", headers=auth).json()["datasets"]
    assert [d["status"] for d in listed if d["dataset_id"] == ds] == [8]
    run_queued(settings, db)
    assert _status(client, project, ds, auth, tid)["imported_sample_count"] == 5
    shown = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert shown["total_sample_count"] == 5
    assert shown["dataset_type"] == 100  # decided from what was imported: texts
    assert shown["status"] == 1 and shown["running_tasks_id"] == []


def test_sync_imports_new_files_of_the_data_source(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    src = tmp_path / "photos"
    (src / "red").mkdir(parents=True)
    (src / "red" / "a.png").write_bytes(_png((200, 0, 0)))
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "photos", "data_sources": [{"data_path": str(src)}]},
        headers=auth,
    )
    ds = r.json()["dataset_id"]
    base = f"/v2/{project}/datasets/{ds}/sync-data"
    assert client.get(base + "/status", headers=auth).json() == {
        "status": "NOT_EXIST",
        "dataset_id": ds,
    }
    run_queued(settings, db)
    (src / "red" / "b.png").write_bytes(_png((210, 0, 0)))
    (src / "blue").mkdir()
    (src / "blue" / "c.png").write_bytes(_png((0, 0, 200)))
    r = client.post(base, json={}, headers=auth)
    assert r.status_code == 200 and r.content == b""
    assert client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()["status"] == 5
    assert client.post(base, headers=auth).json()["error_code"] == "ModelArts.4355"
    run_queued(settings, db)
    status = client.get(base + "/status", headers=auth).json()
    assert status["status"] == "COMPLETED", status
    assert status["add_sample_count"] == 2
    shown = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert shown["total_sample_count"] == 3
    assert sorted(lb["name"] for lb in shown["labels"]) == ["blue", "red"]


def test_manifest_import_with_labels_usage_and_filters(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    src = tmp_path / "m"
    (src / "img").mkdir(parents=True)
    lines = []
    for i, (name, usage, hard) in enumerate(
        [("rabbit", "train", True), ("bee", "EVAL", False), ("bee", "TRAIN", True)]
    ):
        (src / "img" / f"{i}.png").write_bytes(_png((i * 60, 10, 10)))
        line: dict[str, Any] = {
            "source": f"img/{i}.png",
            "usage": usage,
            "annotation": [{"type": "image_classification", "name": name, "annotated-by": "human"}],
        }
        if hard:
            line.update({"hard": "true", "hard-coefficient": 0.8})
        lines.append(json.dumps(line))
    lines.append("{not json")
    (src / "data.manifest").write_text("\n".join(lines) + "\n")
    ds = make_typed(client, project, auth, "m", 0)
    status = _done(
        client,
        db,
        settings,
        project,
        ds,
        auth,
        import_path=str(src / "data.manifest"),
        difficult_only="true",  # a string, as CLIs send booleans
        excluded_labels=["rabbit"],
    )
    assert status["status"] == "COMPLETED", status
    assert status["import_type"] == 1  # inferred from the .manifest ending
    assert status["imported_sample_count"] == 1
    assert [f["file"] for f in status["failures"]] == ["data.manifest:4"]
    with db.read() as s:
        (sample,) = s.scalars(select(Sample).where(Sample.dataset_id == ds))
        assert sample.sample_usage == "TRAIN"
        assert [lb.name for lb in sample.labels] == ["bee"]
        assert sample.content_hash == content_hash((src / "img" / "2.png").read_bytes())


def test_bad_input_answers_with_the_field_and_changes_nothing(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    ds = make_typed(client, project, auth, "bad", 0)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.png").write_bytes(_png((1, 2, 3)))

    def bad(status: int, code: str | None, field: str, **body: Any) -> None:
        r = _import(client, project, ds, auth, **body)
        assert r.status_code == status, r.text
        if code:
            assert r.json()["error_code"] == code, r.text
        assert field in r.json()["error_msg"], r.text

    bad(403, None, "import_path", import_path=str(settings.data_dir))
    bad(403, None, "import_path", import_path="/etc")
    bad(400, None, "import_path", import_path=str(folder / "missing"))
    bad(400, None, "import_path", import_path=str(folder / "a.png"), import_type="dir")
    bad(400, None, "import_type", import_path=str(folder), import_type="table")
    bad(400, None, "annotation_format", import_path=str(folder), annotation_format="TFRecord")
    bad(400, None, "import_path", import_path="")
    bad(400, None, "import_path", import_path=str(tmp_path / ("a" * 5000)))  # ENAMETOOLONG
    bad(501, "ModelArts.4383", "import_path", import_path="obs://bucket/dir/")
    r = client.get(f"/v2/{project}/datasets/{ds}/import-tasks/nope", headers=auth)
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.4612"
    assert _import(client, project, ds, auth, import_path=str(folder)).status_code == 200
    r = _import(client, project, ds, auth, import_path=str(folder))
    assert r.json()["error_code"] == "ModelArts.4356"  # one import at a time
    # a folder with nothing importable fails the task with 4340, naming the path
    run_queued(settings, db)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("nothing to import")
    status = _done(client, db, settings, project, ds, auth, import_path=str(empty))
    assert status["status"] == "FAILED" and status["error_code"] == "ModelArts.4340"
    assert str(empty) in status["error_msg"]
    r = client.post(
        f"/v2/{project}/datasets",
        json={"dataset_name": "refused", "data_sources": [{"data_path": "/etc"}]},
        headers=auth,
    )
    assert r.status_code == 403 and "data_sources.data_path" in r.json()["error_msg"]
    names = [
        d["dataset_name"]
        for d in client.get(f"/v2/{project}/datasets", headers=auth).json()["datasets"]
    ]
    assert "refused" not in names  # a refused source leaves no dataset


# -- round trips -----------------------------------------------------------------------------


def _export_to(client, db, settings, project, ds, auth, dest: Path, **body):  # type: ignore[no-untyped-def]
    r = client.post(f"/v2/{project}/datasets/{ds}/export-tasks", json=body, headers=auth)
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    tid = r.json()["task_id"]
    archive = client.get(f"/v2/{project}/datasets/{ds}/export-tasks/{tid}/download", headers=auth)
    assert archive.status_code == 200, archive.text
    zipfile.ZipFile(io.BytesIO(archive.content)).extractall(dest)
    return dest


def _detection_with_scores(
    client: TestClient, db: Database, project: str, auth: dict[str, str]
) -> str:
    ds = make_typed(client, project, auth, "boxes", 1)
    items = [
        {"name": "a.png", "data": image_b64(40, 30), "labels": [box("car", 1, 2, 21, 12)]},
        {
            "name": "b.png",
            "data": image_b64(40, 30, (1, 2, 3)),
            "labels": [
                box("car", 0, 0, 10, 10, score=0.73, annotated_by="modelarts/pre-label"),
                box("person", 5.5, 6.25, 30, 29),
            ],
        },
        {
            "name": "c.png",
            "data": image_b64(40, 30, (9, 9, 9)),
            "labels": [box("person", 2, 3, 4, 5)],
        },
        {"name": "d.png", "data": image_b64(40, 30, (7, 7, 7))},
    ]
    post_samples(client, project, ds, auth, items)
    with db.transaction() as s:
        s.execute(update(Sample).where(Sample.dataset_id == ds).values(sample_usage="TRAIN"))
        s.execute(
            update(Sample)
            .where(Sample.dataset_id == ds, Sample.name == "b.png")
            .values(sample_usage="EVAL")
        )
    return ds


@pytest.mark.parametrize(
    ("fmt", "scores", "usage"),
    [("MANIFEST", True, True), ("COCO", True, True), ("VOC", True, True), ("YOLO", False, True)],
)
def test_detection_round_trip(
    fmt: str, scores: bool, usage: bool, client, db, settings, project, auth, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    ds = _detection_with_scores(client, db, project, auth)
    out = _export_to(client, db, settings, project, ds, auth, tmp_path / fmt, annotation_format=fmt)
    back = make_typed(client, project, auth, f"back-{fmt.lower()}", 1)
    status = _done(client, db, settings, project, back, auth, import_path=str(out))
    assert status["status"] == "COMPLETED", json.dumps(status)
    assert status["imported_sample_count"] == 4 and not status["failures"], json.dumps(status)
    assert _canonical(db, back, scores=scores, usage=usage) == _canonical(
        db, ds, scores=scores, usage=usage
    )


@pytest.mark.parametrize("fmt", ["MANIFEST", "CLASS_FOLDERS"])
def test_classification_round_trip(fmt: str, client, db, settings, project, auth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = make_typed(client, project, auth, "animals", 0)
    items = [  # distinct bytes: identical files would be one sample after the import
        {
            "name": f"{lab}{i}.png",
            "data": image_b64(16, 12, (i * 20, k, 0)),
            "labels": [{"name": lab}],
        }
        for k, lab in enumerate(("cat", "dog"))
        for i in range(6)
    ] + [{"name": f"u{i}.png", "data": image_b64(16, 12, (0, 0, 50 + i))} for i in range(2)]
    post_samples(client, project, ds, auth, items)
    out = _export_to(client, db, settings, project, ds, auth, tmp_path / fmt, annotation_format=fmt)
    back = make_typed(client, project, auth, f"back-{fmt.lower()}", 0)
    status = _done(client, db, settings, project, back, auth, import_path=str(out))
    assert status["status"] == "COMPLETED", status
    assert status["imported_sample_count"] == 14, status
    assert _canonical(db, back) == _canonical(db, ds)


@pytest.mark.parametrize("fmt", ["CSV", "JSONL", "MANIFEST"])
def test_text_round_trip(fmt: str, client, db, settings, project, auth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = text(client, project, auth)
    out = _export_to(client, db, settings, project, ds, auth, tmp_path / fmt, annotation_format=fmt)
    back = make_typed(client, project, auth, f"back-{fmt.lower()}", 100)
    body: dict[str, Any] = {"import_path": str(out)}
    if fmt != "MANIFEST":
        body["annotation_format"] = "CSV"  # the table, not the manifest written beside it
    status = _done(client, db, settings, project, back, auth, **body)
    assert status["status"] == "COMPLETED", status
    assert status["imported_sample_count"] == 2, status
    assert _canonical(db, back) == _canonical(db, ds)


def test_hand_made_coco_and_voc_import_with_the_right_boxes(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    # written from the formats' documentation, not by LabelPilot
    coco = tmp_path / "coco"
    (coco / "images").mkdir(parents=True)
    (coco / "images" / "one.png").write_bytes(_png((5, 5, 5), (64, 48)))
    (coco / "images" / "two.png").write_bytes(_png((6, 6, 6), (64, 48)))
    doc = {
        "images": [
            {"id": 10, "file_name": "one.png", "width": 64, "height": 48},
            {"id": 11, "file_name": "two.png", "width": 64, "height": 48},
        ],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 3, "bbox": [4.5, 6, 10, 20], "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 7, "bbox": [30, 8, 12.25, 9], "iscrowd": 0},
        ],
        "categories": [
            {"id": 3, "name": "cup"},
            {"id": 7, "name": "plate"},
            {"id": 1, "name": "fork"},
        ],
    }
    (coco / "instances.json").write_text(json.dumps(doc))
    ds = make_typed(client, project, auth, "coco", 1)
    status = _done(client, db, settings, project, ds, auth, import_path=str(coco))
    assert status["imported_sample_count"] == 2, status
    got = _canonical(db, ds)
    hashes = {content_hash((coco / "images" / n).read_bytes()): n for n in ("one.png", "two.png")}
    by_name = {hashes[h]: labels for h, labels, _ in got}
    assert sorted(by_name["one.png"]) == [
        ("cup", 1, None, (4.5, 6.0, 14.5, 26.0)),
        ("plate", 1, None, (30.0, 8.0, 42.25, 17.0)),
    ]
    assert by_name["two.png"] == ()

    voc = tmp_path / "voc"
    voc.mkdir()
    (voc / "street.png").write_bytes(_png((3, 4, 5), (100, 80)))
    (voc / "street.xml").write_text(
        """<annotation>
  <folder>voc</folder><filename>street.png</filename>
  <source><database>Unknown</database></source>
  <size><width>100</width><height>80</height><depth>3</depth></size>
  <segmented>0</segmented>
  <object>
    <name>bus</name><pose>Unspecified</pose><truncated>0</truncated><occluded>0</occluded>
    <difficult>0</difficult><extra>ignored</extra>
    <bndbox><xmin>10</xmin><ymin>12.5</ymin><xmax>60</xmax><ymax>70</ymax></bndbox>
  </object>
</annotation>"""
    )
    ds2 = make_typed(client, project, auth, "voc", 1)
    status = _done(client, db, settings, project, ds2, auth, import_path=str(voc))
    assert status["imported_sample_count"] == 1, status
    ((_, labels, _),) = _canonical(db, ds2)
    assert labels == (("bus", 1, None, (10.0, 12.5, 60.0, 70.0)),)


def test_a_manifest_cannot_read_another_projects_samples(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    other_auth: dict[str, str],
    tmp_path: Path,
) -> None:
    ds = make_typed(client, project, auth, "mine", 0)
    post_samples(
        client,
        project,
        ds,
        auth,
        [{"name": "secret.png", "data": base64.b64encode(_png((9, 8, 7))).decode()}],
    )
    with db.read() as s:
        (source,) = s.scalars(select(Sample.source).where(Sample.dataset_id == ds))
    src = tmp_path / "steal"
    src.mkdir()
    (src / "x.manifest").write_text(json.dumps({"source": source}) + "\n")
    theirs = make_typed(client, "other-project", other_auth, "theirs", 0)
    status = _done(client, db, settings, "other-project", theirs, other_auth, import_path=str(src))
    assert status["status"] == "FAILED" and status["imported_sample_count"] == 0, status
    assert status["failed_file_count"] == 1


def test_a_long_annotated_by_is_a_400_naming_the_field(
    client: TestClient, project: str, auth: dict[str, str]
) -> None:
    ds = make_typed(client, project, auth, "authors", 0)
    url = f"/v2/{project}/datasets/{ds}/data-annotations/samples"
    data = base64.b64encode(_png((1, 1, 1))).decode()
    ok = {
        "name": "a.png",
        "data": data,
        "labels": [{"name": "x", "annotated_by": "modelarts/active-learning"}],
    }
    r = client.post(url, json={"samples": [ok]}, headers=auth)
    assert r.status_code == 200 and r.json()["success"], r.text  # 25 characters fit (#13)
    long = {"name": "b.png", "data": data, "labels": [{"name": "x", "annotated_by": "m" * 257}]}
    r = client.post(url, json={"samples": [long]}, headers=auth)
    assert "annotated_by" in r.text and r.status_code in (200, 400), r.text
    assert r.json().get("success") is not True


def test_a_bad_yolo_line_is_listed_and_the_other_boxes_kept(
    client: TestClient,
    db: Database,
    settings: Any,
    project: str,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    src = tmp_path / "yolo"
    (src / "obj_train_data").mkdir(parents=True)
    (src / "obj.names").write_text("car\nperson\n")
    (src / "obj_train_data" / "a.png").write_bytes(_png((4, 4, 4), (100, 50)))
    (src / "obj_train_data" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n7 0.5 0.5 0.1 0.1\n")
    ds = make_typed(client, project, auth, "yolo", 1)
    status = _done(client, db, settings, project, ds, auth, import_path=str(src))
    assert status["imported_sample_count"] == 1, status
    assert [f["file"].split(":")[0] for f in status["failures"]] == ["obj_train_data/a.png"]
    ((_, labels, _),) = _canonical(db, ds)
    assert labels == (("person", 1, None, (40.0, 15.0, 60.0, 35.0)),)
