"""The labeling workspace and label management, end to end in Chromium against a live server.

Keyboard-only labeling of the demo digits (each write's latency measured here and printed),
undo, confirming and undoing to-be-confirmed samples, multi-label text classification, the
grid's thumbnails opening the workspace, and auto-label's refusal pointing at the workspace.
Every label change the page claims is checked through the API.
"""

from __future__ import annotations

import importlib.util
import os
import re
import statistics
import time
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM, LiveServer, b64, digit_pngs, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"{CHROMIUM} is missing: run scripts/install-browser (apt-get install chromium)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="playwright is not installed: run scripts/install-browser (pip install playwright)",
    ),
]

if importlib.util.find_spec("playwright") is not None:
    from playwright.sync_api import Page, expect

    expect.set_options(timeout=15_000)
else:  # pragma: no cover - the module is skipped
    Page = Any


# Resource timing of the PUTs (the only requests to …/samples without a query string).
WRITE_TIMINGS = """performance.getEntriesByType('resource')
  .filter((e) => e.name.endsWith('/data-annotations/samples'))
  .map((e) => e.responseStart - e.requestStart)"""


def _is_label_write(r: Any) -> bool:
    return bool(r.request.method == "PUT" and r.url.endswith("/data-annotations/samples"))


def _press_and_time(page: Page, key: str) -> tuple[float, float]:
    """Press ``key``; the milliseconds from the key press to the saved answer of the label write
    it causes, (in the page: keydown to the answer handled; here: press to the response read,
    Playwright's round trips included)."""
    last = page.locator(".last-action")
    writes = int(last.get_attribute("data-writes") or 0)
    with page.expect_response(_is_label_write) as info:
        t0 = time.perf_counter()
        page.keyboard.press(key)
    response = info.value
    response.finished()
    outside = (time.perf_counter() - t0) * 1000
    assert response.status == 200, response.text()
    assert response.json()["success"] is True, response.text()
    expect(last).to_have_attribute("data-writes", str(writes + 1))
    return float(last.get_attribute("data-write-ms") or "nan"), outside


def _sample(server: LiveServer, ds: str, sid: str) -> dict[str, Any]:
    r = server.api.get(f"/datasets/{ds}/data-annotations/samples/{sid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _names(sample: dict[str, Any]) -> list[str]:
    return [lb["name"] for lb in sample.get("labels") or []]


def test_keyboard_only_labeling_of_20_demo_samples(page: Page, server: LiveServer) -> None:
    from sklearn.datasets import load_digits

    target = load_digits().target
    demo = server.demo_dataset_id
    before = server.dataset(demo)
    sign_in(page, server, f"/datasets/{demo}/label")
    stage = page.locator("section.stage")
    expect(stage.locator(".sample-name")).to_be_visible()
    expect(page.locator(".palette button.pick")).to_have_count(10)
    # a label named with a digit has that key
    expect(page.locator(".palette button.pick[data-label='3'] .key")).to_have_text("3")
    expect(stage.locator(".stage-head .badge")).to_have_text("unlabeled")
    labeled: dict[str, str] = {}
    times: list[tuple[float, float]] = []
    try:
        for _ in range(20):
            sid = stage.get_attribute("data-sample-id")
            name = stage.locator(".sample-name").inner_text()
            digit = str(target[int(re.fullmatch(r"digit_(\d+)\.png", name).group(1))])  # type: ignore[union-attr]
            times.append(_press_and_time(page, digit))
            assert sid is not None
            labeled[sid] = digit
            # the pick moves on by itself: the next sample is shown
            expect(stage).not_to_have_attribute("data-sample-id", sid)
        assert len(labeled) == 20

        # Back with ←, a wrong key, then z undoes it: the sample has its digit again.
        page.keyboard.press("ArrowLeft")
        last = list(labeled)[-1]
        expect(stage).to_have_attribute("data-sample-id", last)
        expect(stage.locator(".current-labels .chip")).to_have_text(labeled[last])
        wrong = str((int(labeled[last]) + 1) % 10)
        page.keyboard.press("ArrowRight")  # no write: moving alone changes nothing
        page.keyboard.press("ArrowLeft")
        times.append(_press_and_time(page, wrong))
        assert _names(_sample(server, demo, last)) == [wrong]
        times.append(_press_and_time(page, "z"))
        expect(stage).to_have_attribute("data-sample-id", last)
        expect(stage.locator(".current-labels .chip")).to_have_text(labeled[last])
        expect(page.locator(".last-action")).to_contain_text("undo of")

        # Every label went through the API; the counters moved by 20.
        for sid, digit in labeled.items():
            s = _sample(server, demo, sid)
            assert s["sample_status"] == "MANUAL_ANNOTATION", s
            assert _names(s) == [digit], s
        after = server.dataset(demo)
        assert after["annotated_sample_count"] == before["annotated_sample_count"] + 20
        page.wait_for_timeout(800)  # the counters refresh shortly after the last write
        expect(page.locator(".counters [data-counter='labeled'] .value")).to_have_text(
            str(before["annotated_sample_count"] + 20)
        )
        server_ms = page.evaluate(WRITE_TIMINGS)  # request sent to first byte, per write
        inside = sorted(t[0] for t in times)
        outside = sorted(t[1] for t in times)
        print(  # noqa: T201 - the acceptance asks for the numbers, printed, not asserted
            f"\nlabel writes from the keyboard (demo dataset, {len(times)} writes): in the page, "
            f"key press to saved: median {statistics.median(inside):.1f} ms "
            f"(min {inside[0]:.1f}, max {inside[-1]:.1f}); seen from the test through "
            f"Playwright: median {statistics.median(outside):.1f} ms; the server's part "
            f"(request sent to first byte): median {statistics.median(server_ms):.1f} ms"
        )
    finally:  # the demo dataset is shared by the other tests: put it back
        if labeled:
            r = server.api.put(
                f"/datasets/{demo}/data-annotations/samples",
                json={"samples": [{"sample_id": sid, "labels": []} for sid in labeled]},
            )
            assert r.json()["success"] is True, r.text
    assert server.dataset(demo)["annotated_sample_count"] == before["annotated_sample_count"]


def test_confirm_and_undo_a_to_be_confirmed_sample(page: Page, server: LiveServer) -> None:
    ds = server.create_dataset("confirm-ws-e2e", dataset_type=0)
    server.api.post(
        f"/datasets/{ds}/data-annotations/labels",
        json={"labels": [{"name": str(d), "type": 0} for d in range(10)]},
    )
    items: list[dict[str, Any]] = []
    for i, (digit, png) in enumerate(digit_pngs(4, start=40)):
        meta = {"@modelarts:hard": 1, "@modelarts:hard_coefficient": 0.5 + 0.1 * i}
        items.append(
            {
                "name": f"p_{i}.png",
                "data": b64(png),
                "labels": [{"name": str(digit), "type": 0, "score": 0.8}],
                "metadata": {**meta, "@modelarts:hard_reasons": [1]},
            }
        )
    ids = server.add_samples(ds, items, final=False)
    sign_in(page, server, f"/datasets/{ds}/label?queue=hard")
    stage = page.locator("section.stage")
    # hard first: the highest coefficient (the last added) comes first
    expect(stage).to_have_attribute("data-sample-id", ids[3])
    expect(stage.locator(".stage-head .badge")).to_have_text("to be confirmed")
    expect(stage).to_contain_text("low confidence")
    expect(stage.locator(".current-labels .chip")).to_contain_text("0.80")

    _press_and_time(page, "Enter")  # confirms the prediction and moves on
    expect(stage).to_have_attribute("data-sample-id", ids[2])
    s = _sample(server, ds, ids[3])
    assert s["sample_status"] == "MANUAL_ANNOTATION"
    assert _names(s) == [items[3]["labels"][0]["name"]]

    _press_and_time(page, "z")  # back to "to be confirmed", with its score
    expect(stage).to_have_attribute("data-sample-id", ids[3])
    expect(stage.locator(".stage-head .badge")).to_have_text("to be confirmed")
    s = _sample(server, ds, ids[3])
    assert s["sample_status"] == "AUTO_ANNOTATION"
    assert [(lb["name"], lb["score"]) for lb in s["labels"]] == [
        (items[3]["labels"][0]["name"], 0.8)
    ]
    assert server.dataset(ds)["unconfirmed_sample_count"] == 4

    # Backspace clears a sample (it becomes unlabeled), z brings the prediction back.
    _press_and_time(page, "Backspace")
    assert _sample(server, ds, ids[3])["sample_status"] == "UN_ANNOTATION"
    _press_and_time(page, "z")
    assert _sample(server, ds, ids[3])["sample_status"] == "AUTO_ANNOTATION"


def test_multi_label_text_classification(page: Page, server: LiveServer) -> None:
    ds = server.create_dataset("text-ws-e2e", dataset_type=100)
    server.api.post(
        f"/datasets/{ds}/data-annotations/labels",
        json={"labels": [{"name": n, "type": 100} for n in ("positive", "negative", "sports")]},
    )
    texts = [
        "The match was thrilling and the home team won in the last minute.",
        "A dull film: the plot drags and the ending makes no sense.\nSecond line stays.",
    ]
    ids = server.add_samples(
        ds, [{"name": f"t{i}.txt", "data": b64(t.encode())} for i, t in enumerate(texts)]
    )
    sign_in(page, server, f"/datasets/{ds}/label?multi=1")
    stage = page.locator("section.stage")
    expect(stage).to_have_attribute("data-sample-id", re.compile(r"\w+"))
    first = stage.get_attribute("data-sample-id")
    assert first in ids
    text = texts[ids.index(first)]
    expect(stage.locator(".text-sample")).to_have_text(text)
    pick = ".palette button.pick[data-label='{}'] .key"
    names = ("positive", "negative", "sports")
    keys = {n: page.locator(pick.format(n)).inner_text() for n in names}
    assert sorted(keys.values()) == ["1", "2", "3"]
    _press_and_time(page, keys["sports"])
    _press_and_time(page, keys["positive"])
    expect(stage).to_have_attribute("data-sample-id", first)  # several labels: no auto-advance
    assert _names(_sample(server, ds, first)) == ["sports", "positive"]
    _press_and_time(page, keys["sports"])  # the same key again removes it
    assert _names(_sample(server, ds, first)) == ["positive"]
    expect(page.locator(".palette button.pick[data-label='positive']")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.keyboard.press("ArrowRight")
    second = [i for i in ids if i != first][0]
    expect(stage).to_have_attribute("data-sample-id", second)
    expect(stage.locator(".text-sample")).to_have_text(texts[ids.index(second)])
    page.keyboard.press("9")  # no label has key 9: nothing is written, no class is created
    page.wait_for_timeout(300)
    assert _sample(server, ds, second)["sample_status"] == "UN_ANNOTATION"
    assert len(server.dataset(ds)["labels"]) == 3


def test_grid_thumbnail_opens_the_workspace_and_auto_label_says_what_to_do(
    page: Page, server: LiveServer
) -> None:
    ds = server.create_dataset("open-ws-e2e", dataset_type=0)
    server.api.post(
        f"/datasets/{ds}/data-annotations/labels",
        json={"labels": [{"name": "a", "type": 0}, {"name": "b", "type": 0}]},
    )
    ids = server.add_samples(
        ds, [{"name": f"u{i}.png", "data": b64(png)} for i, (_, png) in enumerate(digit_pngs(3))]
    )
    sign_in(page, server, f"/datasets/{ds}")
    form = page.locator("form[data-kind=auto-label]")
    form.get_by_role("button", name="Start auto label").click()
    error = form.locator("p.error")
    expect(error).to_contain_text("ModelArts.44")
    link = error.get_by_role("link", name="open the labeling workspace")
    if server.api.get(f"/datasets/{ds}/tasks").json()["total_count"]:  # pragma: no cover
        pytest.fail("auto-label was accepted on a dataset without labeled samples")
    link.click()
    expect(page).to_have_url(re.compile(rf"#/datasets/{ds}/label\?queue=unlabeled"))
    expect(page.locator("section.stage .sample-name")).to_be_visible()

    page.goto(server.console(f"/datasets/{ds}"))
    card = page.locator(f".grid .card[data-sample-id='{ids[1]}']")
    card.get_by_role("link").click()
    expect(page.locator("section.stage")).to_have_attribute("data-sample-id", ids[1])
    expect(page.locator("section.stage .sample-name")).to_have_text("u1.png")


# --- label management -----------------------------------------------------------------------------


def _labels(server: LiveServer, ds: str) -> dict[str, dict[str, Any]]:
    return {lb["name"]: lb for lb in server.dataset(ds)["labels"]}


def test_define_rename_recolour_and_delete_labels(page: Page, server: LiveServer) -> None:
    ds = server.create_dataset("labels-e2e", dataset_type=0)
    pngs = [png for _, png in digit_pngs(5, start=60)]
    ids = server.add_samples(
        ds,
        [
            {"name": "c0.png", "data": b64(pngs[0]), "labels": [{"name": "cat"}]},
            {"name": "c1.png", "data": b64(pngs[1]), "labels": [{"name": "cat"}]},
            {"name": "d0.png", "data": b64(pngs[2]), "labels": [{"name": "dog"}]},
            {
                "name": "bc.png",
                "data": b64(pngs[3]),
                "labels": [{"name": "bird"}, {"name": "cat"}],
            },
            {"name": "u0.png", "data": b64(pngs[4])},
        ],
    )
    sign_in(page, server, f"/datasets/{ds}/labels")
    rows = page.locator("table.labels-table tbody tr")
    expect(rows).to_have_count(3)
    cat = page.locator("tr[data-label='cat']")
    expect(cat.locator("[data-col=samples]")).to_have_text("3")

    # Define: a new label, and a name already taken is refused in place.
    form = page.get_by_role("form", name="Define a label")
    form.get_by_label("New label").fill("fish")
    form.get_by_role("button", name="Add label").click()
    expect(page.get_by_role("status")).to_have_text('Added the label "fish".')
    expect(rows).to_have_count(4)
    form.get_by_label("New label").fill("cat")
    form.get_by_role("button", name="Add label").click()
    expect(page.locator("p.error").first).to_contain_text('There is already a label "cat"')
    assert set(_labels(server, ds)) == {"cat", "dog", "bird", "fish"}

    # Rename dog -> hound: on every sample.
    page.get_by_role("button", name="Rename dog").click()
    page.get_by_label("New name for dog").fill("hound")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("tr[data-label='hound'] [data-col=samples]")).to_have_text("1")
    expect(page.locator("tr[data-label='dog']")).to_have_count(0)
    assert "dog" not in _labels(server, ds) and "hound" in _labels(server, ds)
    assert _names(_sample(server, ds, ids[2])) == ["hound"]

    # Recolour.
    page.get_by_label("Colour of hound").fill("#0e7490")
    expect(page.get_by_role("status")).to_contain_text("now #0e7490")
    assert _labels(server, ds)["hound"]["property"]["@modelarts:color"] == "#0e7490"

    # Delete asks first: cancel keeps it.
    page.get_by_role("button", name="Delete bird").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("1 sample carry it")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert "bird" in _labels(server, ds)
    # Delete bird, labels only: the cat+bird sample keeps cat.
    page.get_by_role("button", name="Delete bird").click()
    expect(dialog.get_by_label(re.compile("Only remove the label"))).to_be_checked()
    dialog.get_by_role("button", name='Delete "bird"').click()
    expect(dialog).to_be_hidden()
    expect(page.locator("tr[data-label='bird']")).to_have_count(0)
    assert _names(_sample(server, ds, ids[3])) == ["cat"]
    # Delete cat with its samples (policy 1): the three samples that carried only cat go.
    page.get_by_role("button", name="Delete cat").click()
    dialog.get_by_label(re.compile("Also delete the samples left without a label")).check()
    dialog.get_by_role("button", name='Delete "cat"').click()
    expect(page.get_by_role("status")).to_contain_text('Deleted "cat"')
    expect(rows).to_have_count(2)
    after = server.dataset(ds)
    assert set(_labels(server, ds)) == {"hound", "fish"}
    assert after["total_sample_count"] == 2  # d0 (hound) and u0 (unlabeled)
    for sid in (ids[0], ids[1], ids[3]):
        r = server.api.get(f"/datasets/{ds}/data-annotations/samples/{sid}")
        assert r.status_code == 404

    # The workspace offers exactly the defined labels.
    page.get_by_role("link", name="Start labeling").click()
    picks = page.locator(".palette button.pick")
    expect(picks).to_have_count(2)
    expect(picks.nth(0)).to_have_attribute("data-label", "hound")
    expect(picks.nth(1)).to_have_attribute("data-label", "fish")


# --- object detection -----------------------------------------------------------------------------


def _scene_png(seed: int, w: int = 320, h: int = 240) -> bytes:
    """A 320x240 scene with a few coloured shapes to put boxes on."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (w, h), (236, 240, 244))
    d = ImageDraw.Draw(img)
    d.ellipse((30 + seed, 40, 110 + seed, 120), fill=(220, 38, 38))
    d.rectangle((170, 60 + seed, 260, 170 + seed), fill=(37, 99, 235))
    d.polygon([(60, 220), (120, 150), (150, 225)], fill=(22, 163, 74))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _boxes(sample: dict[str, Any]) -> list[tuple[str, list[list[int]]]]:
    return [
        (lb["name"], lb["property"]["@modelarts:feature"])
        for lb in sample.get("labels") or []
        if (lb.get("property") or {}).get("@modelarts:shape") == "bndbox"
    ]


class _Image:
    """Page coordinates of image pixels on the workspace's box layer."""

    def __init__(self, page: Page) -> None:
        self.page = page
        layer = page.locator(".box-layer")
        expect(layer).to_have_attribute("viewBox", "0 0 320 240")
        box = layer.bounding_box()
        assert box is not None
        self.x, self.y = box["x"], box["y"]
        self.sx, self.sy = box["width"] / 320, box["height"] / 240

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.x + x * self.sx, self.y + y * self.sy

    def drag(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        """Drag from image pixel ``a`` to ``b`` and wait for the write it makes."""
        with self.page.expect_response(_is_label_write) as info:
            self.page.mouse.move(*self.at(*a))
            self.page.mouse.down()
            for k in range(1, 5):  # a few moves on the way, as a hand does
                t = k / 4
                self.page.mouse.move(*self.at(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t))
            self.page.mouse.up()
        info.value.finished()
        assert info.value.json()["success"] is True


def test_draw_move_resize_relabel_and_delete_boxes(page: Page, server: LiveServer) -> None:
    ds = server.create_dataset("boxes-e2e", dataset_type=1)
    server.api.post(
        f"/datasets/{ds}/data-annotations/labels",
        json={"labels": [{"name": n, "type": 1} for n in ("ball", "block", "cone")]},
    )
    (plain,) = server.add_samples(ds, [{"name": "scene_a.png", "data": b64(_scene_png(0))}])
    pre = {
        "name": "ball",
        "type": 1,
        "score": 0.71,
        "property": {"@modelarts:shape": "bndbox", "@modelarts:feature": [[40, 40], [120, 120]]},
    }
    (auto,) = server.add_samples(
        ds, [{"name": "scene_b.png", "data": b64(_scene_png(10)), "labels": [pre]}], final=False
    )
    sign_in(page, server, f"/datasets/{ds}/label?queue=unlabeled")
    stage = page.locator("section.stage")
    expect(stage).to_have_attribute("data-sample-id", plain)
    img = _Image(page)

    # Draw three boxes, choosing each one's label with its key first.
    page.keyboard.press("1")  # ball
    expect(page.locator(".palette button.pick[data-label='ball']")).to_have_attribute(
        "aria-pressed", "true"
    )
    img.drag((30, 40), (110, 120))
    page.keyboard.press("Escape")  # the new box stays selected: a key now would relabel it
    page.keyboard.press("2")  # block
    img.drag((170, 60), (260, 170))
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    img.drag((60, 150), (150, 225))
    expect(stage.locator(".box-count")).to_have_attribute("data-boxes", "3")
    assert sorted(n for n, _ in _boxes(_sample(server, ds, plain))) == ["ball", "block", "cone"]

    # Move the ball by (+10, +5): drag its middle.
    page.keyboard.press("Escape")
    img.drag((70, 80), (80, 85))
    # Resize the block: drag its bottom-right corner handle (it is selected after a click).
    page.mouse.click(*img.at(215, 115))
    expect(page.locator(".box-layer .box.selected")).to_have_attribute("data-label", "block")
    img.drag((260, 170), (280, 200))
    # Relabel the cone as a block: select it, press the block's key.
    page.mouse.click(*img.at(100, 200))
    expect(page.locator(".box-layer .box.selected")).to_have_attribute("data-label", "cone")
    with page.expect_response(_is_label_write):
        page.keyboard.press("2")

    def near(got: list[list[int]], want: list[list[int]]) -> bool:
        pairs = zip(sum(got, []), sum(want, []), strict=True)
        return all(abs(g - w) <= 2 for g, w in pairs)

    s = _sample(server, ds, plain)
    assert s["sample_status"] == "MANUAL_ANNOTATION"
    got = sorted(_boxes(s), key=lambda b: b[1][0][0])
    assert [n for n, _ in got] == ["ball", "block", "block"], got
    assert near(got[0][1], [[40, 45], [120, 125]]), got  # moved
    assert near(got[1][1], [[60, 150], [150, 225]]), got  # the relabeled cone
    assert near(got[2][1], [[170, 60], [280, 200]]), got  # resized

    # Delete the selected box, then undo it.
    with page.expect_response(_is_label_write):
        page.keyboard.press("Delete")
    assert len(_boxes(_sample(server, ds, plain))) == 2
    _press_and_time(page, "z")
    assert len(_boxes(_sample(server, ds, plain))) == 3
    expect(page.locator(".box-layer .box")).to_have_count(3)

    # A pre-labeled box is shown (dashed, with its score) and can be edited: it becomes final.
    page.goto(server.console(f"/datasets/{ds}/label?queue=unconfirmed"))
    expect(stage).to_have_attribute("data-sample-id", auto)
    expect(page.locator(".box-layer .box")).to_have_count(1)
    expect(page.locator(".box-layer .box-tag")).to_have_text("ball 0.71")
    dashed = page.locator(".box-layer .box-rect")
    expect(dashed).to_have_attribute("stroke-dasharray", re.compile(r"\d"))
    img = _Image(page)
    img.drag((80, 80), (90, 80))
    s = _sample(server, ds, auto)
    assert s["sample_status"] == "MANUAL_ANNOTATION"
    ((name, corners),) = _boxes(s)
    assert name == "ball" and near(corners, [[50, 40], [130, 120]]), corners
    assert "score" not in s["labels"][0] or s["labels"][0]["score"] is None


# --- screenshots ----------------------------------------------------------------------------------

SIZES = {"": {"width": 1440, "height": 900}, "-phone": {"width": 390, "height": 844}}


def test_screenshots_of_the_labeling_pages(browser: Any, server: LiveServer, tmp_path: Any) -> None:
    """The workspace pages at 1440x900 and 390x844 (scripts/screenshots writes them to docs/),
    and no horizontal scroll at the phone width."""
    from pathlib import Path

    out = Path(os.environ.get("LABELPILOT_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    demo = server.demo_dataset_id
    text = server.create_dataset("reviews-text", dataset_type=100)
    server.api.post(
        f"/datasets/{text}/data-annotations/labels",
        json={"labels": [{"name": n, "type": 100} for n in ("positive", "negative", "neutral")]},
    )
    server.add_samples(
        text,
        [
            {
                "name": "review_001.txt",
                "data": b64(
                    b"Bought this kettle three weeks ago. It boils fast and the lid no longer "
                    b"sticks like my old one did.\n\nThe cord is short, though: it only reaches "
                    b"the socket if the kettle sits right at the edge of the counter."
                ),
            }
        ],
    )
    det = server.create_dataset("street-boxes", dataset_type=1)
    server.api.post(
        f"/datasets/{det}/data-annotations/labels",
        json={"labels": [{"name": n, "type": 1} for n in ("ball", "block", "cone")]},
    )

    def box(name: str, corners: list[list[int]], score: float | None = None) -> dict[str, Any]:
        prop = {"@modelarts:shape": "bndbox", "@modelarts:feature": corners}
        return {"name": name, "type": 1, "score": score, "property": prop}

    server.add_samples(
        det,
        [
            {
                "name": "scene_001.png",
                "data": b64(_scene_png(0)),
                "labels": [
                    box("ball", [[28, 38], [112, 122]], 0.93),
                    box("block", [[168, 58], [262, 172]], 0.88),
                    box("cone", [[58, 148], [152, 227]], 0.41),
                ],
            }
        ],
        final=False,
    )
    shots = [
        ("label", f"/datasets/{demo}/label", "section.stage .sample-image"),
        ("label-boxes", f"/datasets/{det}/label?queue=unconfirmed", ".box-layer .box"),
        ("label-text", f"/datasets/{text}/label?multi=1", "section.stage .text-sample"),
        ("labels", f"/datasets/{demo}/labels", "table.labels-table"),
    ]
    for suffix, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        try:
            sign_in(page, server)
            for name, route, ready in shots:
                page.goto(server.console(route))
                page.locator(ready).first.wait_for()
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(300)
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{route} is {overflow}px wider than the {viewport} screen"
                path = out / f"{name}{suffix}.png"
                page.screenshot(path=str(path))
                assert path.stat().st_size > 10_000, f"{path.name} looks empty"
        finally:
            context.close()
        assert not errors, f"JavaScript errors on the page: {errors}"
