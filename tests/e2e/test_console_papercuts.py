"""Small console fixes of issue #14 point 8, end to end in Chromium against a live server:
tabs share the sign-in, a 401 brings you back to your page after signing in again, "Start a
task" opens the form of the kind you were looking at, a long task name keeps Stop on screen."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM, VIEWPORT, LiveServer, sign_in

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


def test_a_new_tab_shares_the_sign_in_and_sign_out_ends_both(
    browser: Any, server: LiveServer
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    errors: list[str] = []
    try:
        first = context.new_page()
        first.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(first, server)
        second = context.new_page()
        second.on("pageerror", lambda e: errors.append(str(e)))
        second.goto(server.console(f"/datasets/{server.demo_dataset_id}"))
        expect(second.get_by_role("heading", name="demo-digits", level=1)).to_be_visible()
        # the token is not written to disk: each tab holds it in its own sessionStorage
        assert second.evaluate("localStorage.length") == 0
        stored = second.evaluate("sessionStorage.getItem('labelpilot.session')")
        assert json.loads(stored)["project_id"] == server.project_id

        second.get_by_role("button", name="Sign out").click()
        expect(second).to_have_url(re.compile(r"#/login"))
        expect(first).to_have_url(re.compile(r"#/login"))
        expect(first.locator("form.login p.error")).to_contain_text("Signed out in another tab")
        assert first.evaluate("sessionStorage.getItem('labelpilot.session')") is None
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_after_a_401_signing_in_returns_to_the_page(page: Page, server: LiveServer) -> None:
    route = f"/datasets/{server.demo_dataset_id}/labels"
    page.goto(server.console("/login"))
    page.evaluate(
        "([p]) => sessionStorage.setItem('labelpilot.session',"
        " JSON.stringify({project_id: p, token: 'expired-token'}))",
        [server.project_id],
    )
    page.goto(server.console(route))
    expect(page).to_have_url(re.compile(r"#/login\?"))
    expect(page.locator("form.login p.error")).to_contain_text("The token is invalid")
    page.get_by_label("Project ID").fill(server.project_id)
    page.get_by_label("Token", exact=True).fill(server.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(f"#{route}") + "$"))
    expect(page.locator("table.labels-table")).to_be_visible()


def test_start_a_task_opens_the_form_of_the_kind_shown(page: Page, server: LiveServer) -> None:
    ds = server.create_dataset("start-kind-e2e")
    sign_in(page, server, f"/datasets/{ds}/tasks?type=auto-grouping")
    page.get_by_role("link", name="Start a task").click()
    expect(page).to_have_url(re.compile(r"\?kind=auto-grouping"))
    expect(page.locator("form[data-kind=auto-grouping]")).to_be_visible()
    expect(page.get_by_role("radio", name="Auto grouping")).to_be_checked()
    # on a phone the form comes into view at once instead of sitting below the samples
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.console(f"/datasets/{ds}/tasks?type=auto-deploy"))
    page.get_by_role("link", name="Start a task").click()
    form = page.locator("form[data-kind=auto-deploy]")
    expect(form).to_be_in_viewport()
    expect(form.get_by_label("Task name")).to_be_visible()


def test_a_long_task_name_keeps_stop_on_screen(page: Page, server: LiveServer) -> None:
    ds = server.create_dataset("long-name-e2e")
    name = "nightly_retrain_of_the_digit_classifier_with_all_the_new_scans_v2"[:64]
    tid = server.sleep_task(ds, name, batches=600, seconds=0.1)
    try:
        sign_in(page, server, f"/datasets/{ds}/tasks?type=auto-deploy")
        stop = page.get_by_role("button", name=f"Stop {name}")
        expect(stop).to_be_visible()
        box = stop.bounding_box()
        assert box is not None and box["x"] + box["width"] <= VIEWPORT["width"], box
        wrap = page.locator(".table-wrap").first
        assert wrap.evaluate("(el) => el.scrollWidth <= el.clientWidth"), "the task table scrolls"
    finally:
        server.api.post(f"/datasets/{ds}/tasks/{tid}/stop")
        server.wait_task(ds, tid)
