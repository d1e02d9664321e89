"""A translator in a real browser: sign in to Argilla, post-edit one record, submit; `pull` shows the edit.

Headless Debian Chromium (/usr/bin/chromium, or BENCH_CHROMIUM) driven by the `playwright` Python
package (extra `annotation-tests`; no browser download). Screenshots are kept under the test's tmp dir
and copied to $BENCH_ARTIFACTS when set. Skipped without playwright, Chromium or an Argilla server.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from benchmark.dataset_dir import read_config
from tests.test_annotation import _cli_json, _write_dataset, argilla_env, server, skip_or_fail  # noqa: F401

CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
EDIT_SUFFIX = " (relu dans le navigateur)"


def _browser_and_pushed_dataset(tmp_path: Path, server, argilla_env, min_submitted: int):  # noqa: F811
    """Playwright (or skip), and a French test dataset pushed for review: (sync_api, dataset dir, workspace,
    common push/pull options, push report)."""
    try:
        from playwright import sync_api
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[annotation-tests]')")
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"no Chromium at {CHROMIUM} (scripts/argilla_stack.sh install-browser, or set BENCH_CHROMIUM)")
    ds_dir = _write_dataset(tmp_path / "ds", langs=("fr",))
    ws = tmp_path / "ws"
    common = ["--dataset", str(ds_dir), "--workspace-name", server.workspace]
    pushed = _cli_json("annotate", "translations", "push", *common, "--min-submitted", str(min_submitted),
                       env=argilla_env, workspace=ws)["datasets"][0]
    return sync_api, ds_dir, ws, common, pushed


def _keep(paths: list[Path]) -> None:
    dest = os.environ.get("BENCH_ARTIFACTS")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        for p in paths:
            shutil.copy2(p, Path(dest) / p.name)


@pytest.mark.argilla
def test_translator_post_edits_in_the_browser_and_pull_merges_it(tmp_path, server, argilla_env):  # noqa: F811
    sync_api, ds_dir, ws, common, pushed = _browser_and_pushed_dataset(tmp_path, server, argilla_env, 1)
    translator = server.add_annotator(server.workspace, password="translator-pass-1")
    dataset_id = server.dataset(server.workspace, pushed["dataset"])["id"]
    shots = tmp_path / "screenshots"
    shots.mkdir()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{server.url}/sign-in", wait_until="networkidle")
            page.fill("input[name=Username]", translator["username"])
            page.fill("input[name=Password]", translator["password"])
            page.click("button[type=submit]")
            page.wait_for_url(lambda u: "sign-in" not in u)
            page.goto(pushed["url"], wait_until="networkidle")

            editor = page.locator('[aria-label="Question: post_edit"] [contenteditable="true"]')
            editor.wait_for()
            # a contenteditable may render a trailing <br> as "\n": compare the text, not that artefact
            shown = editor.inner_text().rstrip("\n")
            assert shown.startswith("[fr] ")                            # pre-filled with the MT suggestion
            edit = shown.removeprefix("[fr] ").strip() + EDIT_SUFFIX   # the translator's correction
            page.click("label[for=quality_3]")
            editor.click()
            page.keyboard.press("Control+A")
            page.keyboard.type(edit)
            assert editor.inner_text().rstrip("\n") == edit
            page.screenshot(path=str(shots / "argilla-post-edit.png"), full_page=True)
            submit = page.locator("button.button--submit")
            assert submit.is_enabled()
            submit.click()

            deadline = time.monotonic() + 30
            mine = []
            while time.monotonic() < deadline and not mine:
                records = server.records(dataset_id)
                mine = [(ext, r) for ext, r in records.items() for resp in r.get("responses") or []
                        if resp["user_id"] == translator["id"] and resp["status"] == "submitted"]
                if not mine:
                    page.wait_for_timeout(300)
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "argilla-after-submit.png"), full_page=True)
        finally:
            browser.close()
    _keep(sorted(shots.glob("*.png")))

    assert len(mine) == 1, "the submitted response did not reach the server"
    item_id, record = mine[0]
    values = next(r for r in record["responses"] if r["user_id"] == translator["id"])["values"]
    assert values["post_edit"]["value"].strip() == edit and values["quality"]["value"] == 3

    report = _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=ws)["languages"][0]
    assert (report["reviewed"], report["status_counts"]["post_edited"]) == (1, 1)
    row = next(r for r in read_config(ds_dir, "fr") if str(r["id"]) == item_id)
    assert (row["instruction"], row["review_status"], row["reviewers"]) == (edit, "post_edited", 1)
    assert row["machine_translation"] == shown
    assert row["machine_translation"].startswith("[fr] ") and row["reviewed_at"] is not None


@pytest.mark.argilla
def test_second_reviewer_in_the_browser_is_offered_the_mt_not_the_first_edit(tmp_path, server, argilla_env):  # noqa: F811
    """Issue 18: reviewers created with `bench annotate users add`; the first one's edits are pulled and the
    dataset re-pushed; the second one, in the browser, finds the machine translation pre-filled and submits it
    unchanged: an approval, so the item shows disagreement instead of a copied edit."""
    import json
    import uuid

    from tests.helpers import run_cli

    sync_api, ds_dir, ws, common, pushed = _browser_and_pushed_dataset(tmp_path, server, argilla_env, 2)
    password = f"pw-{uuid.uuid4().hex[:12]}"
    names = [f"rev-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    proc = run_cli("annotate", "users", "add", *names, "--workspace-name", server.workspace, "--json", workspace=ws,
                   env={**argilla_env, "ARGILLA_NEW_USER_PASSWORD": password}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    server.users.extend({"id": u["id"]} for u in json.loads(proc.stdout.strip().splitlines()[-1])["users"])
    import httpx

    token = httpx.post(f"{server.url}/api/v1/token", data={"username": names[0], "password": password}).json()
    first = {"Authorization": f"Bearer {token['access_token']}"}
    dataset_id = server.dataset(server.workspace, pushed["dataset"])["id"]
    mt = {str(r["id"]): r["machine_translation"] for r in read_config(ds_dir, "fr")}
    edits = {item: f"ÉDITION DU PREMIER RELECTEUR {item}" for item in mt}
    for item, record in server.records(dataset_id).items():
        resp = httpx.post(f"{server.url}/api/v1/records/{record['id']}/responses", headers=first, json={
            "values": {"quality": {"value": 2}, "post_edit": {"value": edits[item]}}, "status": "submitted"})
        assert resp.status_code == 201, resp.text[:300]
    _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=ws)
    _cli_json("annotate", "translations", "push", *common, "--min-submitted", "2", env=argilla_env, workspace=ws)
    shots = tmp_path / "screenshots"
    shots.mkdir()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{server.url}/sign-in", wait_until="networkidle")
            page.fill("input[name=Username]", names[1])
            page.fill("input[name=Password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(lambda u: "sign-in" not in u)
            page.goto(pushed["url"], wait_until="networkidle")
            editor = page.locator('[aria-label="Question: post_edit"] [contenteditable="true"]')
            editor.wait_for()
            shown = editor.inner_text().rstrip("\n")
            page.screenshot(path=str(shots / "argilla-second-reviewer.png"), full_page=True)
            assert shown.startswith("[fr] ") and "PREMIER RELECTEUR" not in shown   # the MT, not the first edit
            page.click("label[for=quality_4]")
            page.locator("button.button--submit").click()
            deadline, mine = time.monotonic() + 30, []
            while time.monotonic() < deadline and not mine:
                mine = [ext for ext, r in server.records(dataset_id).items() for resp in r.get("responses") or []
                        if resp["user_id"] == server.users[1]["id"] and resp["status"] == "submitted"]
                if not mine:
                    page.wait_for_timeout(300)
        finally:
            browser.close()
    _keep(sorted(shots.glob("*.png")))
    assert len(mine) == 1 and shown == mt[mine[0]]
    report = _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=ws)["languages"][0]
    assert report["agreement"]["items_with_2plus_reviews"] == 1
    assert report["agreement"]["decision_percent_agreement"] == 0.0     # post_edited vs approved: independent
