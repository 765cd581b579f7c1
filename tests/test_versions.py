"""Dataset versions through the API, published by a real worker: the manifest parsed back with
json (DATA_MANAGEMENT §8.1), the split, marker paging, current version, bad input."""

from __future__ import annotations

import json

from sqlalchemy import select

from labelpilot.datasets.tables import Sample
from labelpilot.storage.local import path_from_url
from tests.support.datafiles import classification, detection, text
from tests.support.flow import run_queued


def _publish(client, project, ds, auth, **body):
    return client.post(f"/v2/{project}/datasets/{ds}/versions", json=body, headers=auth)


def _get(client, project, ds, auth, vid):
    return client.get(f"/v2/{project}/datasets/{ds}/versions/{vid}", headers=auth)


def test_publish_get_list_delete(client, db, settings, project, auth):
    ds = classification(client, project, auth)
    r = _publish(
        client,
        project,
        ds,
        auth,
        version_name="V001",
        train_evaluate_sample_ratio="0.5",
        clear_hard_property="false",  # a CLI sends strings
        label_task_id="t1",
    )
    assert r.status_code == 201, r.text
    v1 = r.json()["version_id"]
    assert len(v1) == 19
    body = _get(client, project, ds, auth, v1).json()
    assert body["status"] == 0 and body["is_current"] is False
    # a second publish while the first is queued: 400 4343
    again = _publish(client, project, ds, auth)
    assert again.status_code == 400 and again.json()["error_code"] == "ModelArts.4343"
    dataset = client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()
    assert dataset["status"] == 6  # publishing a version
    run_queued(settings, db)
    body = _get(client, project, ds, auth, v1).json()
    assert body["status"] == 1 and body["is_current"] is True, body
    assert client.get(f"/v2/{project}/datasets/{ds}", headers=auth).json()["status"] == 1
    assert body["total_sample_count"] == 14 and body["annotated_sample_count"] == 12
    assert body["train_evaluate_sample_ratio"] == "0.50" and body["label_task_id"] == "t1"
    assert body["clear_hard_property"] is False and body["label_type"] == "single"
    stats = {st["name"]: st for st in body["label_stats"]}
    assert stats["cat"]["sample_count"] == 6 and stats["dog"]["count"] == 6
    lines = [json.loads(x) for x in path_from_url(body["manifest_path"]).read_text().splitlines()]
    assert len(lines) == 14 and len({x["id"] for x in lines}) == 14
    labeled = [x for x in lines if "annotation" in x]
    assert len(labeled) == 12 and all("usage" not in x for x in lines if "annotation" not in x)
    # stratified: half of each label is held out
    for lab in ("cat", "dog"):
        usages = [x["usage"] for x in labeled if x["annotation"][0]["name"] == lab]
        assert sorted(usages) == ["EVAL"] * 3 + ["TRAIN"] * 3
    ann = labeled[0]["annotation"][0]
    assert ann["type"] == "modelarts/image_classification" and ann["annotated-by"] == "human"
    assert all(x["source"].startswith("file://") for x in lines)
    # the split is stored on the samples (the API does not render sample_usage)
    with db.read() as s:
        usages = s.scalars(select(Sample.sample_usage).where(Sample.dataset_id == ds)).all()
    assert sorted(map(str, usages)) == ["EVAL"] * 6 + ["None"] * 2 + ["TRAIN"] * 6

    v2 = _publish(client, project, ds, auth).json()["version_id"]  # V002 by default
    run_queued(settings, db)
    second = _get(client, project, ds, auth, v2).json()
    assert second["version_name"] == "V002" and second["is_current"]
    assert second["previous_version_id"] == v1
    assert _get(client, project, ds, auth, v1).json()["is_current"] is False

    # list: newest first, no label_stats; marker pages as openstacksdk does
    path = f"/v2/{project}/datasets/{ds}/versions"
    listed = client.get(path, headers=auth).json()
    assert listed["total_number"] == 2
    assert [v["version_id"] for v in listed["versions"]] == [v2, v1]
    assert "label_stats" not in listed["versions"][0]
    page = client.get(path, params={"limit": 1, "marker": v2, "offset": 0}, headers=auth).json()
    assert [v["version_id"] for v in page["versions"]] == [v1]
    page = client.get(path, params={"limit": 1, "marker": v1}, headers=auth).json()
    assert page["versions"] == []
    ratio = client.get(path, params={"train_evaluate_ratio": "0.4,0.6"}, headers=auth).json()
    assert [v["version_id"] for v in ratio["versions"]] == [v1]

    # deleting the current version makes the newest remaining one current (§10.11)
    r = client.delete(f"{path}/{v2}", headers=auth)
    assert r.status_code == 204, r.text
    assert _get(client, project, ds, auth, v1).json()["is_current"] is True
    r = _get(client, project, ds, auth, v2)
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.4353"
    taken = _publish(client, project, ds, auth, version_name="V001")
    assert taken.status_code == 400 and taken.json()["error_code"] == "ModelArts.4371"


def test_detection_version_names_voc_files(client, db, settings, project, auth):
    import xml.etree.ElementTree as ET

    ds = detection(client, project, auth)
    vid = _publish(client, project, ds, auth).json()["version_id"]
    run_queued(settings, db)
    body = _get(client, project, ds, auth, vid).json()
    assert body["status"] == 1, body
    assert {st["name"]: st["count"] for st in body["label_stats"]} == {"car": 2, "person": 2}
    assert body["tags"] == ["Image", "Object detection"]
    lines = [json.loads(x) for x in path_from_url(body["manifest_path"]).read_text().splitlines()]
    boxed = [x for x in lines if "annotation" in x]
    assert len(lines) == 4 and len(boxed) == 3
    for line in boxed:
        (ann,) = line["annotation"]
        assert ann["type"] == "modelarts/object_detection"
        assert ann["annotation-format"] == "PASCAL VOC"
        root = ET.parse(path_from_url(ann["annotation-loc"])).getroot()
        assert root.tag == "annotation" and root.findtext("size/width") == "40"
        assert all(o.find("bndbox") is not None for o in root.iter("object"))


def test_bad_input(client, project, auth):
    ds = classification(client, project, auth)
    cases = [
        ({"version_name": "bad name!"}, 400, "ModelArts.0104", "version_name"),
        ({"train_evaluate_sample_ratio": "1.5"}, 400, "ModelArts.0104", "ratio"),
        ({"version_format": "parquet"}, 400, "ModelArts.0104", "version_format"),
        ({"version_format": "csv"}, 501, "ModelArts.4383", "CSV"),
        ({"description": "a<b"}, 400, "ModelArts.0104", "description"),
    ]
    for body, status, code, word in cases:
        r = _publish(client, project, ds, auth, **body)
        assert (r.status_code, r.json()["error_code"]) == (status, code), (body, r.text)
        assert word in r.json()["error_msg"]
    few = text(client, project, auth)  # one sample per label: nothing to hold out
    r = _publish(client, project, few, auth, train_evaluate_sample_ratio=0.8)
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.4342"
    assert "negative, positive" in r.json()["error_msg"]
    r = client.get(f"/v2/{project}/datasets/{ds}/versions/nope", headers=auth)
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.4353"
    r = client.get(f"/v2/{project}/datasets/nope/versions", headers=auth)
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.4352"


def test_a_version_holds_confirmed_labels_only(client, db, settings, project, auth):
    """§10.5: every sample is in the version; a to-be-confirmed one without its labels."""
    from tests.support.datafiles import image_b64
    from tests.support.flow import post_samples

    ds = classification(client, project, auth)
    item = {"name": "guess.png", "data": image_b64(16, 12), "labels": [{"name": "cat"}]}
    post_samples(client, project, ds, auth, [item], final_annotation=False)
    vid = _publish(client, project, ds, auth).json()["version_id"]
    run_queued(settings, db)
    body = _get(client, project, ds, auth, vid).json()
    assert (body["total_sample_count"], body["annotated_sample_count"]) == (15, 12)
    lines = [json.loads(x) for x in path_from_url(body["manifest_path"]).read_text().splitlines()]
    guess = next(x for x in lines if x["source"].endswith("guess.png"))
    assert "annotation" not in guess and "usage" not in guess
    # ratio 1.00: every labeled sample is TRAIN
    assert {x.get("usage") for x in lines if "annotation" in x} == {"TRAIN"}
    r = _publish(client, project, ds, auth, export_images=True)
    assert r.status_code == 501 and "export_images" in r.json()["error_msg"]
