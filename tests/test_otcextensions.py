"""An independent ModelArts client drives the data-management API (issue #13's acceptance):
``otcextensions`` 0.34.8's ``modelartsv2`` proxy on openstacksdk, against a real LabelPilot server
process on 127.0.0.1 with a worker, so that tasks (publish, import, export, sync) really run.

The proxy is used unchanged. Its 0.34.x methods pass ``uri_dataset_id=`` to resources whose
``base_path`` formats ``%(dataset_id)s`` (labels, samples, statistics, versions): those calls fail
inside the client with ``KeyError: 'dataset_id'`` before any request is sent
(DATA_MANAGEMENT.md §9). For them the test calls the same resource classes with ``dataset_id=``
(``_fixed`` below), which sends exactly the documented requests. The proxy has no method for
"update one label" (``PUT …/labels/{name}``); that one goes through the proxy's own session.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openstack.connection as openstack_connection
import openstack.exceptions as openstack_exceptions
import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint as ks_token
from otcextensions import sdk as otc_sdk
from otcextensions.sdk.modelartsv2.v2 import dataset_label as _label
from otcextensions.sdk.modelartsv2.v2 import dataset_sample as _sample
from otcextensions.sdk.modelartsv2.v2 import dataset_statistics as _stats
from otcextensions.sdk.modelartsv2.v2 import dataset_version as _version
from PIL import Image

from labelpilot.auth.service import NewCredential
from labelpilot.config import Settings
from tests.support.api_process import ApiProcess
from tests.support.procs import start_worker, stop_process, worker_log

# openstacksdk 4.22 warns about its own deprecated internals on every Resource it builds and
# every request (``_compute_attributes``, the ``service_type`` parameter): third-party warnings
# we cannot fix at the cause, and pyproject turns warnings into errors
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning")

TASK_TIMEOUT = 120  # seconds for a publish, import, export or sync on a loaded 2-core machine


def _png(color: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _wait(what: str, probe: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """Poll ``probe()`` until ``done`` says so; fail with the last value after TASK_TIMEOUT."""
    deadline = time.monotonic() + TASK_TIMEOUT
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not done within {TASK_TIMEOUT} s: {value!r}")
        time.sleep(0.2)


class _fixed:  # noqa: N801 - read as a namespace: _fixed.stats(proxy, ds)
    """The calls whose proxy method passes ``uri_dataset_id`` (otcextensions 0.34.x) where the
    resource formats ``%(dataset_id)s``: the same resource classes, given ``dataset_id=``."""

    @staticmethod
    def labels(proxy: Any, ds: str) -> list[Any]:
        return list(_label.DatasetLabel.list(proxy, dataset_id=ds))

    @staticmethod
    def create_labels(proxy: Any, ds: str, labels: list[dict[str, Any]]) -> Any:
        return _label.DatasetLabel.new(dataset_id=ds, labels=labels).create(proxy)

    @staticmethod
    def update_labels(proxy: Any, ds: str, labels: list[dict[str, Any]]) -> Any:
        return _label.DatasetLabel.new(dataset_id=ds).update_labels(proxy, labels)

    @staticmethod
    def delete_labels(
        proxy: Any, ds: str, labels: list[dict[str, Any]], policy: int | None = None
    ) -> Any:
        return _label.DatasetLabel.new(dataset_id=ds).delete_labels(proxy, labels, policy)

    @staticmethod
    def add_samples(proxy: Any, ds: str, samples: list[dict[str, Any]]) -> Any:
        return _sample.DatasetSample.new(dataset_id=ds, samples=samples).create(proxy)

    @staticmethod
    def samples(proxy: Any, ds: str, **query: Any) -> list[Any]:
        # the proxy lists samples with paginated=False too (one page)
        return list(_sample.DatasetSample.list(proxy, paginated=False, dataset_id=ds, **query))

    @staticmethod
    def sample(proxy: Any, ds: str, sample_id: str) -> Any:
        return _sample.DatasetSample.new(dataset_id=ds, sample_id=sample_id).fetch(proxy)

    @staticmethod
    def stats(proxy: Any, ds: str) -> Any:
        return _stats.DatasetStatistics.new(dataset_id=ds).fetch(proxy, requires_id=False)

    @staticmethod
    def create_version(proxy: Any, ds: str, **attrs: Any) -> Any:
        return _version.DatasetVersion.new(dataset_id=ds, **attrs).create(proxy)

    @staticmethod
    def versions(proxy: Any, ds: str) -> list[Any]:
        return list(_version.DatasetVersion.list(proxy, dataset_id=ds))

    @staticmethod
    def version(proxy: Any, ds: str, version_id: str) -> Any:
        return _version.DatasetVersion.new(dataset_id=ds, version_id=version_id).fetch(proxy)

    @staticmethod
    def delete_version(proxy: Any, ds: str, version_id: str) -> None:
        _version.DatasetVersion.new(dataset_id=ds, version_id=version_id).delete(proxy)


@pytest.fixture
def server(
    settings: Settings,
    tmp_path: Path,
    cred: NewCredential,  # noqa: ARG001
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ApiProcess]:
    """``labelpilot serve`` and one worker; ``cred`` first, so the schema and token exist.

    Both may import from the test's tmp dir only: ``ApiProcess`` passes ``import_roots`` itself,
    ``Settings.child_env`` (the worker's environment) does not, so the variable is set here.
    """
    monkeypatch.setenv("LABELPILOT_IMPORT_ROOTS", json.dumps([str(tmp_path)]))
    api = ApiProcess(settings, tmp_path / "logs")
    worker = None
    try:
        api.start()
        worker = start_worker(settings)
        yield api
    finally:
        if worker is not None:
            stop_process(worker)
        api.stop()
        # captured: pytest shows it only when the test failed
        for log in sorted((tmp_path / "logs").glob("api-*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")  # noqa: T201
        print(f"--- worker\n{worker_log(settings)}")  # noqa: T201


@pytest.fixture
def modelarts(server: ApiProcess, cred: NewCredential) -> Iterator[Any]:
    """The ``modelartsv2`` proxy of an openstacksdk Connection pointed at the server only."""
    endpoint = f"{server.url}/v2/{cred.project_id}"
    host = urlsplit(endpoint).hostname
    assert host is not None and ipaddress.ip_address(host).is_loopback, endpoint
    # token_endpoint: a fixed endpoint and an X-Auth-Token, no Keystone (no catalog lookup);
    # trust_env off: no HTTP(S)_PROXY from the environment reroutes the loopback traffic
    http = requests.Session()
    http.trust_env = False
    session = ks_session.Session(auth=ks_token.Token(endpoint, cred.token), session=http)
    conn = openstack_connection.Connection(session=session, modelartsv2_endpoint_override=endpoint)
    otc_sdk.register_otc_extensions(conn)
    proxy = conn.modelartsv2
    assert proxy.get_endpoint() == endpoint
    try:
        yield proxy
    finally:
        conn.close()


def test_data_management_through_the_otcextensions_proxy(modelarts: Any, tmp_path: Path) -> None:
    _drive(modelarts, tmp_path)


def _drive(p: Any, tmp_path: Path) -> None:
    # -- datasets: create, list, get, update -------------------------------------------------
    ds = p.create_dataset(
        dataset_name="otc-pets",
        dataset_type=0,
        description="made by otcextensions",
        labels=[{"name": "cat", "type": 0}, {"name": "dog", "type": 0}],
    )
    assert ds.id and ds.dataset_name == "otc-pets"
    names = [d.dataset_name for d in p.datasets()]
    assert names == ["otc-pets"]
    got = p.get_dataset(ds.id)
    assert got.description == "made by otcextensions"
    assert sorted(lb.name for lb in got.labels) == ["cat", "dog"]
    assert got.total_sample_count == 0
    p.update_dataset(ds.id, dataset_name="otc-pets-2", description="renamed")
    got = p.get_dataset(ds.id)
    assert (got.dataset_name, got.description) == ("otc-pets-2", "renamed")
    assert p.find_dataset("otc-pets-2", ignore_missing=False).id == ds.id

    # the proxy methods of §9 fail inside the client, before any request: hence ``_fixed``
    png = tmp_path / "one.png"
    png.write_bytes(_png((1, 2, 3)))
    buggy: list[Callable[[], Any]] = [
        lambda: p.add_dataset_samples(ds.id, file_path=str(png)),
        lambda: p.get_dataset_statistics(ds.id),
        lambda: list(p.dataset_labels(ds.id)),
        lambda: p.create_dataset_label(ds.id, labels=[{"name": "x"}]),
        lambda: p.update_dataset_labels(ds.id, labels=[{"name": "cat"}]),
        lambda: p.delete_dataset_labels(ds.id, labels=[{"name": "cat"}]),
        lambda: list(p.dataset_samples(ds.id)),
        lambda: p.get_dataset_sample(ds.id, "s"),
        lambda: list(p.dataset_versions(ds.id)),
        lambda: p.create_dataset_version(ds.id, version_name="V0"),
        lambda: p.get_dataset_version(ds.id, "v"),
        lambda: p.delete_dataset_version(ds.id, "v"),
    ]
    for call in buggy:
        with pytest.raises(KeyError, match="dataset_id"):
            call()

    # -- labels: create, batch update, update one, batch delete --------------------------------
    made = _fixed.create_labels(p, ds.id, [{"name": "bird", "type": 0}, {"name": "fish"}])
    assert made.success is True
    assert sorted(lb.name for lb in _fixed.labels(p, ds.id)) == ["bird", "cat", "dog", "fish"]

    # -- samples: add, list, get -------------------------------------------------------------
    samples = [
        {"name": f"{name}{i}.png", "data": _b64(_png(color)), "labels": [{"name": name, "type": 0}]}
        for name, color in (("cat", (200, 10, 10)), ("dog", (10, 200, 10)), ("bird", (9, 9, 200)))
        for i in range(2)
    ]
    added = _fixed.add_samples(p, ds.id, samples)
    assert added.success is True and len(added.results) == 6
    listed = _fixed.samples(p, ds.id)
    assert len(listed) == 6
    by_name = {s.sample_name: s for s in listed}
    one = _fixed.sample(p, ds.id, by_name["cat0.png"].sample_id)
    assert [lb.name for lb in one.labels] == ["cat"]
    assert one.sample_status == "MANUAL_ANNOTATION"

    # batch update: bird's colour, and fish renamed to trout
    updated = _fixed.update_labels(
        p,
        ds.id,
        [
            {"name": "bird", "type": 0, "property": {"@modelarts:color": "#00ff00"}},
            {"name": "fish", "type": 0, "property": {"@modelarts:rename_to": "trout"}},
        ],
    )
    assert updated.success is True, updated
    labels = {lb.name: lb for lb in _fixed.labels(p, ds.id)}
    assert sorted(labels) == ["bird", "cat", "dog", "trout"]
    assert labels["bird"].property.color == "#00ff00"
    # update one label (no proxy method): bird renamed to parrot on every sample
    r = p.put(
        f"/datasets/{ds.id}/data-annotations/labels/bird",
        json={"@modelarts:rename_to": "parrot"},
    )
    assert r.status_code == 204, r.text
    parrots = _fixed.samples(p, ds.id, label_name="parrot")
    assert sorted(s.sample_name for s in parrots) == ["bird0.png", "bird1.png"]
    # batch delete without delete_policy (the library omits 0): labels stripped, samples kept
    deleted = _fixed.delete_labels(p, ds.id, [{"name": "trout"}, {"name": "parrot"}])
    assert deleted.success is True, deleted
    assert sorted(lb.name for lb in _fixed.labels(p, ds.id)) == ["cat", "dog"]
    got = p.get_dataset(ds.id)
    assert (got.total_sample_count, got.annotated_sample_count) == (6, 4)

    # delete samples through the proxy (it passes dataset_id itself)
    p.delete_dataset_samples(ds.id, samples=[by_name["bird1.png"].sample_id], delete_source=True)
    assert sorted(s.sample_name for s in _fixed.samples(p, ds.id)) == [
        "bird0.png",
        "cat0.png",
        "cat1.png",
        "dog0.png",
        "dog1.png",
    ]

    # -- statistics --------------------------------------------------------------------------
    stats = _fixed.stats(p, ds.id)
    counts = {x["name"]: (x["sample_count"], x["count"]) for x in stats.label_stats}
    assert counts == {"cat": (2, 2), "dog": (2, 2)}
    assert stats.sample_stats["total"] == 5
    assert stats.sample_stats["un_annotation"] == 1
    assert stats.sample_stats["manual_annotation"] == 4
    assert stats.is_data_spliting_enabled is True

    # -- versions: create, list, get, delete ---------------------------------------------------
    made_version = _fixed.create_version(p, ds.id, version_name="V001", description="first")
    vid = made_version.version_id
    assert vid
    version = _wait(
        "version publish", lambda: _fixed.version(p, ds.id, vid), lambda v: v.status == 1
    )
    assert version.version_name == "V001"
    assert (version.total_sample_count, version.annotated_sample_count) == (5, 4)
    assert version.manifest_path
    assert {s.name: s.sample_count for s in version.label_stats} == {"cat": 2, "dog": 2}
    # a ratio as the CLI sends it (a string): a stratified train/evaluate split
    second = _fixed.create_version(p, ds.id, version_name="V002", train_evaluate_sample_ratio="0.5")
    split = _wait(
        "second publish",
        lambda: _fixed.version(p, ds.id, second.version_id),
        lambda v: v.status == 1,
    )
    assert float(split.train_evaluate_sample_ratio) == 0.5
    assert split.is_current is True
    assert [v.version_name for v in _fixed.versions(p, ds.id)] == ["V002", "V001"]
    _fixed.delete_version(p, ds.id, vid)
    assert [v.version_id for v in _fixed.versions(p, ds.id)] == [second.version_id]
    with pytest.raises(openstack_exceptions.NotFoundException):
        _fixed.version(p, ds.id, vid)

    # -- import task: a folder of class sub-folders -------------------------------------------
    folder = tmp_path / "pets"
    for name, color in (("cat", (250, 0, 0)), ("dog", (0, 250, 0)), ("horse", (5, 5, 5))):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            (folder / name / f"{name}-new{i}.png").write_bytes(_png((color[0], color[1], i)))
    task = p.create_dataset_import_task(ds.id, import_path=str(folder), import_type=0)
    assert task.task_id
    done = _wait(
        "import",
        lambda: p.get_dataset_import_task(ds.id, task.task_id),
        lambda t: t.status in ("COMPLETED", "FAILED"),
    )
    assert done.status == "COMPLETED", (done.error_code, done.error_msg)
    assert done.imported_sample_count == 9
    assert done.import_path == str(folder)
    imports = list(p.dataset_import_tasks(ds.id))
    assert [t.task_id for t in imports] == [task.task_id]
    got = p.get_dataset(ds.id)
    assert (got.total_sample_count, got.annotated_sample_count) == (14, 13)
    assert sorted(lb.name for lb in got.labels) == ["cat", "dog", "horse"]

    # -- export task ---------------------------------------------------------------------------
    export = p.create_dataset_export_task(ds.id, path="/bucket/otc-out/", export_type=3)
    assert export.task_id

    def export_status() -> str:
        # the library types status as int, so "SUCCESSED" would read back as a number
        # (DATA_MANAGEMENT.md §9); the raw body keeps the documented string
        t = p.get_dataset_export_task(ds.id, export.task_id)
        return str(t._body["status"])

    status = _wait("export", export_status, lambda s: s in ("SUCCESSED", "FAILED"))
    assert status == "SUCCESSED"
    finished = p.get_dataset_export_task(ds.id, export.task_id)
    assert finished.total_sample_count == 14 and finished.finished_sample_count == 14
    assert finished.progress == 100.0
    assert finished.path == "/bucket/otc-out/"
    assert finished.status == 0  # the library's int typing of "SUCCESSED" (§9)
    # export_format 1: class folders
    folders = p.create_dataset_export_task(ds.id, export_format=1)
    _wait(
        "class-folder export",
        lambda: p.get_dataset_export_task(ds.id, folders.task_id)._body["status"],
        lambda s: s in ("SUCCESSED", "FAILED"),
    )
    folders = p.get_dataset_export_task(ds.id, folders.task_id)
    assert folders.annotation_format == "CLASS_FOLDERS"
    assert folders.export_format == 1 and folders.finished_sample_count == 14
    exported = [t.task_id for t in p.dataset_export_tasks(ds.id)]
    assert exported == [folders.task_id, export.task_id]

    # -- sync: a dataset made from a folder picks up files added later ------------------------
    source = tmp_path / "farm"
    (source / "cow").mkdir(parents=True)
    (source / "cow" / "a.png").write_bytes(_png((100, 100, 100)))
    farm = p.create_dataset(
        dataset_name="otc-farm", dataset_type=0, data_sources=[{"data_path": str(source)}]
    )
    assert farm.import_task_id
    _wait(
        "first import",
        lambda: p.get_dataset_import_task(farm.id, farm.import_task_id),
        lambda t: t.status == "COMPLETED",
    )
    (source / "cow" / "b.png").write_bytes(_png((110, 100, 100)))
    (source / "pig").mkdir()
    (source / "pig" / "c.png").write_bytes(_png((240, 180, 180)))
    p.dataset_sync(farm.id)
    synced = _wait(
        "sync",
        lambda: p.get_dataset_sync_status(farm.id),
        lambda s: s.status in ("COMPLETED", "FAILED"),
    )
    assert synced.status == "COMPLETED", synced
    assert synced.add_sample_count == 2
    got = p.get_dataset(farm.id)
    assert got.total_sample_count == 3
    assert sorted(lb.name for lb in got.labels) == ["cow", "pig"]

    # -- delete --------------------------------------------------------------------------------
    p.delete_dataset(farm.id)
    with pytest.raises(openstack_exceptions.NotFoundException):
        p.get_dataset(farm.id)
    assert [d.dataset_name for d in p.datasets()] == ["otc-pets-2"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_client_conventions_through_the_proxy(modelarts: Any, tmp_path: Path) -> None:
    """What the library sends differently from the docs (DATA_MANAGEMENT.md §9): ``labels`` in
    update_dataset, ``delete_policy``, ``import_type`` as an integer, ``marker`` paging."""
    p = modelarts
    ds = p.create_dataset(
        dataset_name="otc-conventions",
        dataset_type=0,
        labels=[{"name": "a", "type": 0}, {"name": "b", "type": 0}, {"name": "c", "type": 0}],
    )
    samples = [
        {"name": f"{name}.png", "data": _b64(_png(color)), "labels": [{"name": name, "type": 0}]}
        for name, color in (("a", (1, 0, 0)), ("b", (0, 1, 0)), ("c", (0, 0, 1)))
    ]
    assert _fixed.add_samples(p, ds.id, samples).success is True

    # update_dataset sends the Dataset's ``labels`` (not add/update/delete lists): the full list
    p.update_dataset(ds.id, labels=[{"name": "a", "type": 0}, {"name": "z", "type": 0}])
    got = p.get_dataset(ds.id)
    assert sorted(lb.name for lb in got.labels) == ["a", "z"]
    assert (got.total_sample_count, got.annotated_sample_count) == (3, 1)

    # delete_policy 1: the samples left without a label go too
    p.update_dataset(ds.id, labels=[{"name": "a", "type": 0}])
    assert _fixed.delete_labels(p, ds.id, [{"name": "a"}], policy=1).success is True
    got = p.get_dataset(ds.id)
    assert (got.total_sample_count, got.annotated_sample_count, got.labels) == (2, 0, [])

    # import_type as an integer (1: manifest), and two imports to page through
    folder = tmp_path / "m"
    (folder / "img").mkdir(parents=True)
    lines = []
    for i, name in enumerate(("x", "y", "x")):
        (folder / "img" / f"{i}.png").write_bytes(_png((i * 70, 30, 30)))
        annotation = [{"type": "image_classification", "name": name, "annotated-by": "human"}]
        lines.append(json.dumps({"source": f"img/{i}.png", "annotation": annotation}))
    (folder / "data.manifest").write_text("\n".join(lines) + "\n")
    first = p.create_dataset_import_task(
        ds.id, import_path=str(folder / "data.manifest"), import_type=1
    )
    done = _wait(
        "manifest import",
        lambda: p.get_dataset_import_task(ds.id, first.task_id),
        lambda t: t.status in ("COMPLETED", "FAILED"),
    )
    assert done.status == "COMPLETED", (done.error_code, done.error_msg)
    assert (done.import_type, done.imported_sample_count) == (1, 3)
    again = p.create_dataset_import_task(ds.id, import_path=str(folder / "data.manifest"))
    _wait(
        "second import",
        lambda: p.get_dataset_import_task(ds.id, again.task_id),
        lambda t: t.status == "COMPLETED",
    )
    got = p.get_dataset(ds.id)
    assert got.total_sample_count == 5  # the second import added no duplicates
    assert {x["name"]: x["sample_count"] for x in _fixed.stats(p, ds.id).label_stats} == {
        "x": 2,
        "y": 1,
    }
    # ``limit`` makes openstacksdk re-send the query with ``marker=<last id>`` until a page is
    # short; a server ignoring ``marker`` would repeat the first page forever
    paged = [t.task_id for t in p.dataset_import_tasks(ds.id, limit=1)]
    assert paged == [again.task_id, first.task_id]

    exports = []
    for export_type in (0, 3):
        task = p.create_dataset_export_task(ds.id, export_type=export_type)
        _wait(
            "export",
            lambda t=task: p.get_dataset_export_task(ds.id, t.task_id)._body["status"],
            lambda s: s in ("SUCCESSED", "FAILED"),
        )
        exports.append(task.task_id)
    paged = [t.task_id for t in p.dataset_export_tasks(ds.id, limit=1)]
    assert paged == exports[::-1]
    counts = [p.get_dataset_export_task(ds.id, t).total_sample_count for t in exports]
    assert counts == [3, 5]  # export_type 0: labeled samples only; 3: all

    # datasets: the library's own list pages with ``offset`` + 1 (a page index, as LabelPilot
    # reads it) and ``marker`` while fewer than ``total_number`` came back
    for i in range(11):
        p.create_dataset(dataset_name=f"page-{i:02d}", dataset_type=0)
    listed = [d.dataset_name for d in p.datasets()]
    assert sorted(listed) == sorted(["otc-conventions", *(f"page-{i:02d}" for i in range(11))])
    assert [d.dataset_name for d in p.datasets(limit=5)] == listed[:5]  # one page, as asked

    # errors reach the library's exceptions with the ModelArts code and message
    with pytest.raises(openstack_exceptions.BadRequestException) as taken:
        p.create_dataset(dataset_name="otc-conventions", dataset_type=0)
    assert "ModelArts.4351" in str(taken.value.details)
    with pytest.raises(openstack_exceptions.NotFoundException) as missing:
        p.get_dataset_import_task(ds.id, "no-such-task")
    assert "ModelArts.4612" in str(missing.value.details)
