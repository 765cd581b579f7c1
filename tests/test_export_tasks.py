"""Export tasks through the API, run by a real worker; each format parsed back with json,
xml.etree, csv and zipfile against its documentation, filters, download, bad input, and a
worker killed mid-export whose rerun writes a clean result."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import xml.etree.ElementTree as ET
import zipfile

import pytest

from labelpilot.engine.worker import reap_expired
from labelpilot.storage.local import path_from_url
from tests.support.datafiles import classification, detection, insert_rows, make_typed, text
from tests.support.flow import run_queued
from tests.support.procs import start_worker, wait_for


def _export(client, project, ds, auth, **body):
    return client.post(f"/v2/{project}/datasets/{ds}/export-tasks", json=body, headers=auth)


def _status(client, project, ds, auth, task_id):
    return client.get(f"/v2/{project}/datasets/{ds}/export-tasks/{task_id}", headers=auth)


def _done(client, db, settings, project, ds, auth, **body):
    r = _export(client, project, ds, auth, **body)
    assert r.status_code == 200, r.text
    run_queued(settings, db)
    status = _status(client, project, ds, auth, r.json()["task_id"]).json()
    assert status["status"] == "SUCCESSED", status
    return status, path_from_url(status["export_path"])


def test_manifest_export_with_filters(client, db, settings, project, auth):
    ds = classification(client, project, auth)
    status, out = _done(client, db, settings, project, ds, auth, path="/bucket/out/")
    assert status["progress"] == 100.0 and status["finished_sample_count"] == 14
    assert status["path"] == "/bucket/out/" and status["export_type"] == 3
    assert "/exports/bucket/out/" in status["export_path"]
    lines = [
        json.loads(x) for x in (out / f"{status['task_id']}.manifest").read_text().splitlines()
    ]
    assert len(lines) == 14 and sum("annotation" in x for x in lines) == 12
    # export_type 0: labeled only; 1: unlabeled only
    status, out = _done(client, db, settings, project, ds, auth, export_type=1)
    assert status["total_sample_count"] == 2
    # conditional search: conditions are OR-combined
    cond = [{"label_list": {"labels": [{"name": "cat"}]}}, {"sample_name": "u0.png"}]
    status, out = _done(
        client,
        db,
        settings,
        project,
        ds,
        auth,
        export_type=3,
        export_params={"search_conditions": cond, "train_sample_ratio": 1.0},
    )
    assert status["total_sample_count"] == 7
    status, _ = _done(client, db, settings, project, ds, auth, sample_state="__ALL__")
    assert status["total_sample_count"] == 12
    listed = client.get(f"/v2/{project}/datasets/{ds}/export-tasks", headers=auth).json()
    assert listed["total_count"] == 4
    first = listed["export_tasks"][0]["task_id"]
    page = client.get(
        f"/v2/{project}/datasets/{ds}/export-tasks",
        params={"limit": 2, "marker": first},
        headers=auth,
    ).json()
    assert [t["task_id"] for t in page["export_tasks"]] == [
        t["task_id"] for t in listed["export_tasks"][1:3]
    ]


def test_class_folders_and_download(client, db, settings, project, auth):
    ds = classification(client, project, auth)
    status, out = _done(client, db, settings, project, ds, auth, export_format=1)
    assert status["annotation_format"] == "CLASS_FOLDERS"
    assert sorted(p.name for p in (out / "cat").iterdir()) == [f"cat{i}.png" for i in range(6)]
    assert {p.name for p in out.iterdir() if p.is_file()} >= {"u0.png", "u1.png"}
    url = f"/v2/{project}/datasets/{ds}/export-tasks/{status['task_id']}/download"
    r = client.get(url, headers=auth)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.testzip() is None
    names = set(archive.namelist())
    assert "dog/dog3.png" in names and f"{status['task_id']}.manifest" in names
    assert archive.read("cat/cat0.png") == (out / "cat" / "cat0.png").read_bytes()


def test_detection_formats(client, db, settings, project, auth):
    ds = detection(client, project, auth)
    # COCO: bbox is [x, y, width, height]; categories numbered from 1
    _, out = _done(client, db, settings, project, ds, auth, annotation_format="coco")
    doc = json.loads((out / "annotations.json").read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    images = {i["id"]: i for i in doc["images"]}
    assert len(images) == 4 and all(i["width"] == 40 and i["height"] == 30 for i in images.values())
    boxes = sorted(
        (images[a["image_id"]]["file_name"], cats[a["category_id"]], a["bbox"])
        for a in doc["annotations"]
    )
    assert boxes == [
        ("a.png", "car", [1.0, 2.0, 20.0, 10.0]),
        ("b.png", "car", [0.0, 0.0, 10.0, 10.0]),
        ("b.png", "person", [5.5, 6.25, 24.5, 22.75]),
        ("c.png", "person", [2.0, 3.0, 2.0, 2.0]),
    ]
    assert all((out / "images" / i["file_name"]).is_file() for i in images.values())
    # VOC: x.png next to x.xml
    _, out = _done(client, db, settings, project, ds, auth, annotation_format="VOC")
    root = ET.parse(out / "data" / "b.xml").getroot()
    assert root.findtext("filename") == "b.png" and root.findtext("size/depth") == "3"
    objs = [
        (
            o.findtext("name"),
            [float(o.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")],
        )
        for o in root.iter("object")
    ]
    assert objs == [("car", [0, 0, 10, 10]), ("person", [5.5, 6.25, 30, 29])]
    assert (out / "data" / "b.png").is_file() and not (out / "data" / "d.xml").exists()
    # YOLO: normalised centre and size per line, classes in obj.names
    _, out = _done(client, db, settings, project, ds, auth, annotation_format="YOLO")
    names = (out / "obj.names").read_text().split()
    assert names == ["car", "person"]
    (line,) = (out / "obj_train_data" / "a.txt").read_text().splitlines()
    cls, xc, yc, w, h = line.split()
    assert names[int(cls)] == "car"
    assert [float(v) for v in (xc, yc, w, h)] == pytest.approx(
        [11 / 40, 7 / 30, 0.5, 1 / 3], abs=1e-6
    )
    assert "classes = 2" in (out / "obj.data").read_text()
    assert len((out / "train.txt").read_text().splitlines()) == 4
    # the manifest of a detection export names the VOC files
    status, out = _done(client, db, settings, project, ds, auth)
    lines = [
        json.loads(x) for x in (out / f"{status['task_id']}.manifest").read_text().splitlines()
    ]
    locs = [x["annotation"][0]["annotation-loc"] for x in lines if "annotation" in x]
    assert len(locs) == 3 and all(
        ET.parse(path_from_url(u)).getroot().tag == "annotation" for u in locs
    )


def test_text_formats(client, db, settings, project, auth):
    ds = text(client, project, auth)
    status, out = _done(client, db, settings, project, ds, auth, annotation_format="CSV")
    rows = list(csv.reader(io.StringIO((out / f"{status['task_id']}.csv").read_text(), newline="")))
    assert rows[0] == ["text", "labels", "usage"]
    assert sorted(r[:2] for r in rows[1:]) == [
        ["I like it, really", "positive"],
        ['bad "quality"\nnever again', "negative"],
    ]
    status, out = _done(client, db, settings, project, ds, auth, annotation_format="jsonl")
    objs = [json.loads(x) for x in (out / f"{status['task_id']}.jsonl").read_text().splitlines()]
    assert sorted((o["text"], o["labels"]) for o in objs)[0] == ("I like it, really", ["positive"])


def test_version_export(client, db, settings, project, auth):
    ds = classification(client, project, auth)
    vid = client.post(
        f"/v2/{project}/datasets/{ds}/versions",
        json={"train_evaluate_sample_ratio": "0.5"},
        headers=auth,
    ).json()["version_id"]
    run_queued(settings, db)
    # samples added after the version are not in its export
    insert_rows(db, ds, 3)
    status, out = _done(client, db, settings, project, ds, auth, version_id=vid, export_type=0)
    lines = [
        json.loads(x) for x in (out / f"{status['task_id']}.manifest").read_text().splitlines()
    ]
    assert len(lines) == 12 and sorted(x["usage"] for x in lines) == ["EVAL"] * 6 + ["TRAIN"] * 6


def test_bad_input(client, project, auth):
    ds = classification(client, project, auth)
    cases = [
        ({"annotation_format": "tfrecord"}, 400, "ModelArts.4384", "annotation_format"),
        ({"export_format": 3}, 400, "ModelArts.4384", "export_format"),
        ({"annotation_format": "COCO"}, 400, "ModelArts.4384", "dataset type"),
        ({"export_type": 7}, 400, "ModelArts.4384", "export_type"),
        ({"path": "/bucket/../etc/"}, 400, "ModelArts.4358", "path"),
        ({"version_id": "nope"}, 404, "ModelArts.4353", "nope"),
        ({"sample_state": "__WHAT__"}, 400, "ModelArts.0104", "sample_state"),
        ({"export_params": {"train_sample_ratio": "x"}}, 400, "ModelArts.0104", "ratio"),
        (
            {"export_params": {"search_conditions": [{"kvp": "x"}]}},
            400,
            "ModelArts.0104",
            "kvp",
        ),
    ]
    for body, status, code, word in cases:
        r = _export(client, project, ds, auth, **body)
        assert (r.status_code, r.json()["error_code"]) == (status, code), (body, r.text)
        assert word in r.json()["error_msg"]
    r = _status(client, project, ds, auth, "nope")
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.4359"
    task = _export(client, project, ds, auth).json()["task_id"]
    r = client.get(f"/v2/{project}/datasets/{ds}/export-tasks/{task}/download", headers=auth)
    assert r.status_code == 400 and "INIT" in r.json()["error_msg"]
    r = _export(client, project, ds, auth)  # one export at a time per dataset
    assert r.status_code == 501 and r.json()["error_code"] == "ModelArts.4386"


def test_killed_worker_mid_export_reruns_cleanly(client, db, settings, project, auth, workers):
    ds = make_typed(client, project, auth, "big", 0)
    n = 60000
    insert_rows(db, ds, n)
    task = _export(client, project, ds, auth, path="/bucket/big/").json()["task_id"]
    worker = start_worker(settings)
    workers.append(worker)

    def midway() -> bool:
        body = _status(client, project, ds, auth, task).json()
        return 0 < body["finished_sample_count"] < n

    wait_for(midway, 60, interval=0.02)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    wait_for(lambda: reap_expired(db, settings), 15, interval=0.2)  # the lease runs out: requeued
    run_queued(settings, db)
    body = _status(client, project, ds, auth, task).json()
    assert body["status"] == "SUCCESSED" and body["finished_sample_count"] == n, body
    out = path_from_url(body["export_path"])
    lines = (out / f"{task}.manifest").read_text().splitlines()
    assert len(lines) == n and len({json.loads(x)["id"] for x in lines}) == n
    assert sorted(p.name for p in out.iterdir()) == [f"{task}.manifest"]
