"""`bench annotate`: translation review and critical-error confirmation against a real Argilla server.

Tests marked ``argilla`` need a server at ARGILLA_API_URL (default: the local stack of
`bench annotate up` / `make argilla-up`, http://127.0.0.1:6930) with an owner key in ARGILLA_API_KEY
(default: the local dev key); without one they are skipped. `make test-argilla` starts the stack,
runs them and stops it. Annotators are real Argilla users created through the API, answering
through the same REST endpoint as the web UI (POST /api/v1/records/{id}/responses), each with its own key.
Every test works in its own Argilla workspace and deletes it afterwards.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from annotation.agreement import krippendorff_alpha, mean_pairwise_jaccard, per_label_alpha
from annotation.translations import Review, resolve
from benchmark.dataset_dir import PARQUET_NAME, dataset_schema, read_config, source_row, translated_row, write_config
from tests.helpers import REPO, run_cli

DEMO = REPO / "benchmark" / "data" / "demo_instructions.jsonl"


# ---------------------------------------------------------------------------------------------
# pure logic (no server)


def test_krippendorff_alpha_matches_published_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders, 12 units, missing values.
    n = None
    coders = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
              [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    units = [list(u) for u in zip(*coders)]
    assert round(krippendorff_alpha(units, "nominal"), 3) == 0.743
    assert round(krippendorff_alpha(units, "ordinal"), 3) == 0.815
    assert round(krippendorff_alpha(units, "interval"), 3) == 0.849
    assert krippendorff_alpha([[3, 3], [3, 3]], "ordinal") is None          # no variation: undefined
    assert krippendorff_alpha([[1], [2]], "nominal") is None                # nothing pairable
    assert krippendorff_alpha([[1, 1], [5, 5], [2, 2]], "interval") == 1.0
    assert mean_pairwise_jaccard([[["a"], ["a", "b"]], [[], []]]) == 0.75
    assert per_label_alpha([[["a"], ["a"]], [[], []]], ["a"]) == {"a": 1.0}


def _t(minute: int) -> datetime:
    return datetime(2026, 1, 1, 12, minute, tzinfo=timezone.utc)


def test_resolution_rule():
    mt = "Bonjour le monde"
    approve = Review("a", 5, mt, [], _t(1))
    assert resolve([approve, Review("b", 4, "  Bonjour  le monde ", [], _t(2))], mt).status == "approved"
    rej = resolve([Review("a", 1, mt, ["accuracy"], _t(1)), Review("b", 2, mt, [], _t(3))], mt)
    assert (rej.status, rej.text, rej.reviewers, rej.reviewed_at) == ("rejected", mt, 2, _t(3))
    # majority of edits, identical after whitespace normalisation
    res = resolve([Review("a", 3, "Salut le monde", [], _t(1)), Review("b", 3, "Salut  le monde", [], _t(2)),
                   Review("c", 3, "Coucou", [], _t(3))], mt)
    assert res.status == "post_edited" and res.text == "Salut  le monde"
    # one edit vs one approval: tie -> post_edited (conservative)
    assert resolve([approve, Review("b", 3, "Salut le monde", [], _t(2))], mt).status == "post_edited"
    # one rejection vs one approval: tie -> rejected
    assert resolve([approve, Review("b", 2, mt, [], _t(2))], mt).status == "rejected"
    # two different edits: the one closest to the other reviewers' texts wins, whatever the order
    near, far = "Bonjour le monde !", "Salutations à toute la planète"
    for order in ([near, far], [far, near]):
        reviews = [Review(x, 3, text, [], _t(i)) for i, (x, text) in enumerate(zip("ab", order))] + [approve]
        assert resolve(reviews, mt).text == near
    # exact tie everywhere -> the most recent submission
    assert resolve([Review("a", 3, "Salut A", [], _t(5)), Review("b", 3, "Salut B", [], _t(1))], mt).text == "Salut A"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_one_clear_line_naming_the_url(tmp_path):
    ds = _write_dataset(tmp_path / "ds")
    url = f"http://127.0.0.1:{_free_port()}"
    for args in (["annotate", "translations", "push", "--dataset", str(ds), "--api-url", url, "--api-key", "s3cr3t-key"],
                 ["annotate", "translations", "pull", "--dataset", str(ds), "--api-url", url],
                 ["annotate", "errors", "pull", "--api-url", url]):
        proc = run_cli(*args, workspace=tmp_path / "ws", timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, proc.stderr
        assert len(lines) == 1 and f"Argilla server not reachable at {url}" in lines[0], proc.stderr
        assert "s3cr3t-key" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    # the dataset folder is untouched
    assert read_config(ds, "fr")[0]["review_status"] == "machine"


# ---------------------------------------------------------------------------------------------
# fixtures for the server tests


def _write_dataset(out: Path, langs=("fr", "es")) -> Path:
    """A dataset folder like `bench build-dataset` writes (10 demo items; QA flags on every 3rd)."""
    records = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
    schema = dataset_schema(records)
    write_config(out, "en", [source_row(r) for r in records], schema)
    for lang in langs:
        rows = [translated_row(r, lang, f"[{lang}] {r['instruction']}", "test-mt",
                               ["untranslated"] if i % 3 == 0 else [],
                               {"untranslated": "target ratio 0.95"} if i % 3 == 0 else {})
                for i, r in enumerate(records)]
        write_config(out, lang, rows, schema)
    return out


class Server:
    """Owner-side helpers over REST (the owner key), plus annotator users with their own keys."""

    def __init__(self, url: str, key: str):
        self.url, self.key = url, key
        self.http = httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": key}, timeout=60)
        self.users: list[dict] = []

    def call(self, method: str, path: str, key: str | None = None, **kw):
        headers = {"X-Argilla-Api-Key": key} if key else None
        resp = self.http.request(method, path, headers=headers, **kw)
        assert resp.status_code < 400, f"{method} {path}: {resp.status_code} {resp.text[:500]}"
        return resp.json() if resp.content else None

    def workspace_id(self, name: str) -> str | None:
        return next((w["id"] for w in self.call("GET", "/api/v1/me/workspaces")["items"] if w["name"] == name), None)

    def add_annotator(self, workspace: str, password: str = "annotator-pass-1") -> dict:
        name = f"ann-{uuid.uuid4().hex[:10]}"
        user = self.call("POST", "/api/v1/users", json={"username": name, "first_name": name, "password": password,
                                                        "role": "annotator"})
        self.users.append(user)
        self.call("POST", f"/api/v1/workspaces/{self.workspace_id(workspace)}/users", json={"user_id": user["id"]})
        return {**user, "password": password}

    def dataset(self, workspace: str, name: str) -> dict:
        ws_id = self.workspace_id(workspace)
        items = self.call("GET", "/api/v1/me/datasets")["items"]
        return next(d for d in items if d["name"] == name and d["workspace_id"] == ws_id)

    def records(self, dataset_id: str) -> dict[str, dict]:
        page = self.call("GET", f"/api/v1/datasets/{dataset_id}/records", params={"include": "responses", "limit": 1000})
        return {r["external_id"]: r for r in page["items"]}

    def respond(self, user: dict, record: dict, values: dict, status: str = "submitted") -> dict:
        body = {"values": {k: {"value": v} for k, v in values.items()}, "status": status}
        return self.call("POST", f"/api/v1/records/{record['id']}/responses", key=user["api_key"], json=body)

    def cleanup(self, workspace: str) -> None:
        ws_id = self.workspace_id(workspace)
        if ws_id:
            for d in self.call("GET", "/api/v1/me/datasets")["items"]:
                if d["workspace_id"] == ws_id:
                    self.call("DELETE", f"/api/v1/datasets/{d['id']}")
            self.http.delete(f"/api/v1/workspaces/{ws_id}")
        for user in self.users:
            self.http.delete(f"/api/v1/users/{user['id']}")
        self.users.clear()


def skip_or_fail(reason: str):
    """Skip, or fail where the environment promises everything is there (BENCH_REQUIRE_ARGILLA=1, as in CI)."""
    if os.environ.get("BENCH_REQUIRE_ARGILLA") == "1":
        pytest.fail(f"BENCH_REQUIRE_ARGILLA=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def argilla_env() -> dict[str, str]:
    """ARGILLA_API_URL / ARGILLA_API_KEY of a reachable server, or skip."""
    from annotation.client import api_key_from_env, api_url_from_env

    url, key = api_url_from_env(), api_key_from_env()
    try:
        resp = httpx.get(f"{url}/api/v1/me", headers={"X-Argilla-Api-Key": key}, timeout=5)
    except httpx.HTTPError as exc:
        skip_or_fail(f"no Argilla server reachable at {url} ({type(exc).__name__}): start one with "
                     "`make argilla-up` (or `bench annotate up`), or set ARGILLA_API_URL / ARGILLA_API_KEY")
    if resp.status_code != 200 or resp.json().get("role") != "owner":
        skip_or_fail(f"Argilla at {url} did not accept ARGILLA_API_KEY as an owner key (HTTP {resp.status_code})")
    return {"ARGILLA_API_URL": url, "ARGILLA_API_KEY": key}


@pytest.fixture
def server(argilla_env):
    srv = Server(argilla_env["ARGILLA_API_URL"], argilla_env["ARGILLA_API_KEY"])
    srv.workspace = f"bench-test-{uuid.uuid4().hex[:8]}"
    yield srv
    srv.cleanup(srv.workspace)


def _cli_json(*args, env, workspace: Path) -> dict:
    proc = run_cli(*args, "--json", workspace=workspace, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert env["ARGILLA_API_KEY"] not in proc.stdout + proc.stderr or env["ARGILLA_API_KEY"] == "argilla.apikey"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# translations


@pytest.mark.argilla
def test_translations_push_annotate_pull_merge_agreement_and_repush(tmp_path, server, argilla_env):
    ds_dir = _write_dataset(tmp_path / "ds")
    ws = tmp_path / "ws"
    common = ["--dataset", str(ds_dir), "--workspace-name", server.workspace]
    pushed = _cli_json("annotate", "translations", "push", *common, "--languages", "fr,es", "--min-submitted", "2",
                       env=argilla_env, workspace=ws)["datasets"]
    assert [(d["lang"], d["records"], d["new"], d["created"]) for d in pushed] == [("fr", 10, 10, True), ("es", 10, 10, True)]

    fr = server.dataset(server.workspace, "ds-translation-fr")
    assert fr["distribution"] == {"strategy": "overlap", "min_submitted": 2}
    assert "Reviewing machine translations" in fr["guidelines"]
    settings_q = {q["name"]: q for q in server.call("GET", f"/api/v1/datasets/{fr['id']}/questions")["items"]}
    assert set(settings_q) == {"quality", "post_edit", "errors"}
    assert [o["value"] for o in settings_q["errors"]["settings"]["options"]] == [
        "accuracy", "omission", "addition", "fluency", "terminology", "code_format", "wrong_language", "untranslated"]
    records = server.records(fr["id"])
    assert sorted(records, key=int) == [str(i) for i in range(10)]
    sugg = server.call("GET", f"/api/v1/records/{records['0']['id']}/suggestions")["items"]
    by_q = {s["question_id"]: s["value"] for s in sugg}
    assert by_q[settings_q["post_edit"]["id"]].startswith("[fr] What are three")
    assert settings_q["errors"]["id"] not in by_q            # nothing pre-ticked: the QA flag is shown as text
    assert records["0"]["fields"]["qa"] == "untranslated: target ratio 0.95"
    assert "pre-filled with the machine translation" in fr["guidelines"]
    quality = next(line for line in fr["guidelines"].splitlines() if line.startswith("1. "))
    assert "5 = perfect" in quality and "1 = unusable" in quality      # a paragraph is one line: not hard-wrapped
    meta = records["0"].get("metadata") or server.call("GET", f"/api/v1/records/{records['0']['id']}")["metadata"]
    assert meta["qa_flagged"] == "yes" and meta["source_dataset"] == "demo" and meta["source_chars"] > 0

    a, b, c = (server.add_annotator(server.workspace) for _ in range(3))
    mt = {r["id"]: r["machine_translation"] for r in read_config(ds_dir, "fr")}

    def say(user, item, rating, edit=None, errors=(), status="submitted"):
        values = {"quality": rating, "post_edit": edit or mt[item]}
        if errors:  # like the UI: an unanswered optional question is left out (the server refuses [])
            values["errors"] = list(errors)
        server.respond(user, records[str(item)], values, status)

    say(a, 0, 3, "Quelles sont trois façons simples de garder le basilic frais ?", ["untranslated"])
    say(b, 0, 2, "Quelles sont trois façons simples de garder le basilic frais ?", ["untranslated", "fluency"])
    say(a, 1, 5), say(b, 1, 4)                                   # approved
    say(a, 2, 1, errors=["accuracy"]), say(b, 2, 2)              # rejected (no edit, low ratings)
    say(a, 3, 3, "Édition de A"), say(b, 3, 4)                   # tie edit / approval -> post_edited
    say(c, 4, 4, "Une seule relecture")                          # one reviewer of two so far
    say(a, 5, 4, "brouillon", status="draft")                    # drafts are not merged
    server.respond(c, records["6"], {}, "discarded")             # neither are discarded records
    say(c, 7, 5), say(b, 7, 5)

    status = {k: r["status"] for k, r in server.records(fr["id"]).items()}
    assert status["0"] == "completed" and status["4"] == "pending"   # min_submitted=2 overlap

    report = _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=ws)
    rep = {r["lang"]: r for r in report["languages"]}
    frr = rep["fr"]
    assert (frr["rows"], frr["reviewed"], frr["complete"], frr["coverage"]) == (10, 6, 5, 0.6)
    assert frr["status_counts"] == {"approved": 2, "machine": 4, "post_edited": 3, "rejected": 1}
    assert frr["responses"] == {"submitted": 11, "draft": 1, "discarded": 1}
    assert len(frr["annotators"]) == 3
    expected_alpha = krippendorff_alpha([[3, 2], [5, 4], [1, 2], [3, 4], [5, 5]], "ordinal")
    assert frr["agreement"]["rating_alpha_ordinal"] == round(expected_alpha, 3)
    assert frr["agreement"]["items_with_2plus_reviews"] == 5
    assert frr["agreement"]["decision_percent_agreement"] == 0.8         # item 3 split edit/approve
    assert frr["agreement"]["error_labels_mean_jaccard"] == round((0.5 + 1 + 0 + 1 + 1) / 5, 3)
    assert rep["es"]["reviewed"] == 0 and rep["es"]["status_counts"] == {"machine": 10}

    rows = {r["id"]: r for r in read_config(ds_dir, "fr")}
    assert rows[0]["instruction"] == "Quelles sont trois façons simples de garder le basilic frais ?"
    assert rows[0]["review_status"] == "post_edited" and rows[0]["reviewers"] == 2
    assert rows[0]["machine_translation"] == mt[0] and rows[0]["reviewed_at"] is not None
    assert (rows[1]["review_status"], rows[1]["instruction"]) == ("approved", mt[1])
    assert (rows[2]["review_status"], rows[2]["instruction"]) == ("rejected", mt[2])
    assert (rows[3]["review_status"], rows[3]["instruction"]) == ("post_edited", "Édition de A")
    assert (rows[4]["review_status"], rows[4]["reviewers"]) == ("post_edited", 1)
    for item in (5, 6, 8, 9):
        assert (rows[item]["review_status"], rows[item]["reviewers"], rows[item]["reviewed_at"]) == ("machine", 0, None)
    # every config keeps one schema, review columns included (en too)
    schemas = {lang: pq.read_schema(ds_dir / lang / PARQUET_NAME) for lang in ("en", "fr", "es")}
    assert schemas["en"] == schemas["fr"] == schemas["es"]
    assert {"reviewers", "reviewed_at"} <= set(schemas["en"].names)
    assert not list(ds_dir.rglob("*.tmp"))

    # a label pre-ticked by an older push (as bench did before issue 18) is removed by the next push
    server.call("PUT", f"/api/v1/records/{records['3']['id']}/suggestions",
                json={"question_id": settings_q["errors"]["id"], "value": ["untranslated"], "agent": "bench-qa"})
    # re-push after partial annotation: updates in place, no duplicates, every response kept
    pushed2 = _cli_json("annotate", "translations", "push", *common, "--languages", "fr", "--min-submitted", "2",
                        env=argilla_env, workspace=ws)["datasets"]
    # nothing the reviewers see changed: no record is written again
    assert [(d["records"], d["new"], d["updated"], d["unchanged"], d["created"]) for d in pushed2] == [(10, 0, 0, 10, False)]
    assert pushed2[0]["dropped_label_suggestions"] == 1
    after = server.records(fr["id"])
    assert len(after) == 10 and sorted(after, key=int) == [str(i) for i in range(10)]
    assert sum(len(r["responses"]) for r in after.values()) == 13
    # no anchoring: the re-pushed suggestion stays the MT (not the merged post-edit), the MT field is unchanged
    sugg = server.call("GET", f"/api/v1/records/{after['3']['id']}/suggestions")["items"]
    assert [s["value"] for s in sugg] == [mt[3]]
    assert after["3"]["fields"]["translation"] == mt[3]

    # every submitted review is in the store, with its reviewer, rating, decision, labels, text and time
    from bench.workspace import Workspace

    w = Workspace(ws)
    stored = w.store.query_dicts("SELECT * FROM translation_reviews ORDER BY lang, item_id, annotator")
    w.close()
    assert len(stored) == 11 and {r["review_set"] for r in stored} == {"ds-translation"}
    by = {(r["item_id"], r["annotator"]): r for r in stored}
    r0 = by[("0", b["username"])]
    assert (r0["rating"], r0["decision"], list(r0["errors"]), r0["lang"]) == (2, "post_edited", ["fluency", "untranslated"], "fr")
    assert r0["post_edit"] == "Quelles sont trois façons simples de garder le basilic frais ?" and r0["submitted_at"]
    assert by[("2", a["username"])]["decision"] == "rejected" and by[("1", a["username"])]["decision"] == "approved"
    assert r0["source"] == f"{server.workspace}/ds-translation-fr" and r0["machine_translation"] == mt[0]

    # more work arrives: the second reviewer of item 4 approves -> tie edit/approve stays post_edited;
    # a pull merges it and leaves everything else as it was
    say(a, 4, 5)
    say(a, 8, 2), say(c, 8, 1)
    qa_eval = tmp_path / "qa-dev-argilla.jsonl"
    report2 = _cli_json("annotate", "translations", "pull", *common, "--languages", "fr", "--to-eval", str(qa_eval),
                        env=argilla_env, workspace=ws)
    fr2 = report2["languages"][0]
    # the reviews join the QA evaluation data: review labels mapped to flags, with their provenance
    assert report2["eval_records"] == {"file": str(qa_eval), "added": 7, "already_there": 0}
    evals = {r["item_id"]: r for r in map(json.loads, qa_eval.read_text(encoding="utf-8").splitlines())}
    assert sorted(evals, key=int) == ["0", "1", "2", "3", "4", "7", "8"]
    assert evals["0"]["labels"] == ["untranslated"] and evals["0"]["translation"] == mt[0]
    assert evals["0"]["source"].startswith("What are three") and evals["0"]["made"] == "argilla"
    assert evals["2"]["labels"] == [] and evals["2"]["review_labels"] == ["accuracy"]
    assert len(evals["0"]["annotators"]) == 2 and evals["0"]["split"] == "dev"
    scored = run_cli("qa", "evaluate", "--dev", str(qa_eval), "--json", workspace=ws)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["items"] == 7
    assert (fr2["reviewed"], fr2["complete"]) == (7, 7)
    rows2 = {r["id"]: r for r in read_config(ds_dir, "fr")}
    assert (rows2[4]["review_status"], rows2[4]["reviewers"], rows2[4]["instruction"]) == ("post_edited", 2, "Une seule relecture")
    assert rows2[8]["review_status"] == "rejected"
    for item in (0, 1, 2, 3):
        assert rows2[item] == rows[item]
    assert read_config(ds_dir, "es") == read_config(ds_dir, "es")  # still readable, untouched rows


def _login(url: str, username: str, password: str) -> dict[str, str]:
    """Sign in as the web UI does (POST /api/v1/token): headers for the reviewer's own requests."""
    resp = httpx.post(f"{url}/api/v1/token", data={"username": username, "password": password}, timeout=30)
    assert resp.status_code == 201, f"{username} cannot sign in: {resp.status_code} {resp.text[:300]}"
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


@pytest.mark.argilla
def test_users_added_by_bench_review_independently_and_the_release_holds_every_review(tmp_path, server, argilla_env):
    """Two reviewers created with `bench annotate users add`; after the first one's edit is pulled and the
    dataset re-pushed, the second is offered the machine translation (not the edit); agreement comes from
    the independent reviews; the release's `reviews` config and card carry every review and the agreement."""
    ds_dir = _write_dataset(tmp_path / "ds", langs=("fr",))
    ws = tmp_path / "ws"
    common = ["--dataset", str(ds_dir), "--workspace-name", server.workspace]
    _cli_json("annotate", "translations", "push", *common, "--min-submitted", "2", env=argilla_env, workspace=ws)

    password = f"pw-{uuid.uuid4().hex[:12]}"
    names = [f"rev-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    env = {**argilla_env, "ARGILLA_NEW_USER_PASSWORD": password}
    proc = run_cli("annotate", "users", "add", *names, "--workspace-name", server.workspace, "--json",
                   workspace=ws, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert password not in proc.stdout + proc.stderr                     # the password is never printed
    added = json.loads(proc.stdout.strip().splitlines()[-1])["users"]
    server.users.extend({"id": u["id"]} for u in added)                  # deleted with the workspace
    assert [(u["username"], u["role"], u["created"], u["added_to_workspace"]) for u in added] == [
        (names[0], "annotator", True, True), (names[1], "annotator", True, True)]
    again = _cli_json("annotate", "users", "add", names[0], "--workspace-name", server.workspace, env=env,
                      workspace=ws)["users"]
    assert (again[0]["created"], again[0]["added_to_workspace"]) == (False, False)   # idempotent
    listed = _cli_json("annotate", "users", "list", "--workspace-name", server.workspace, env=argilla_env,
                       workspace=ws)["users"]
    assert {(u["username"], u["role"]) for u in listed} >= {(n, "annotator") for n in names}
    assert all(u["workspaces"] == [server.workspace] for u in listed if u["username"] in names)

    first, second = (_login(server.url, n, password) for n in names)
    fr = server.dataset(server.workspace, "ds-translation-fr")
    records = server.records(fr["id"])
    mt = {str(r["id"]): r["machine_translation"] for r in read_config(ds_dir, "fr")}
    post_edit_q = next(q["id"] for q in server.call("GET", f"/api/v1/datasets/{fr['id']}/questions")["items"]
                       if q["name"] == "post_edit")

    def offered(headers: dict, item: str) -> str:
        """The post-edit text the reviewer's UI is pre-filled with (the record's suggestion)."""
        resp = httpx.get(f"{server.url}/api/v1/records/{records[item]['id']}/suggestions", headers=headers, timeout=30)
        assert resp.status_code == 200, resp.text[:300]
        return next(s["value"] for s in resp.json()["items"] if s["question_id"] == post_edit_q)

    def answer(headers: dict, item: str, rating: int, text: str, errors=()) -> None:
        values = {"quality": {"value": rating}, "post_edit": {"value": text}}
        if errors:
            values["errors"] = {"value": list(errors)}
        resp = httpx.post(f"{server.url}/api/v1/records/{records[item]['id']}/responses", headers=headers, timeout=30,
                          json={"values": values, "status": "submitted"})
        assert resp.status_code == 201, resp.text[:300]

    edit = "Quelles sont trois façons simples de garder le basilic frais ?"
    for item in records:  # the first reviewer: item 0 post-edited, the rest approved as offered
        answer(first, item, 3 if item == "0" else 5, edit if item == "0" else offered(first, item),
               ["untranslated"] if item == "0" else ())
    _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=ws)
    assert read_config(ds_dir, "fr")[0]["instruction"] == edit                # merged into the folder
    _cli_json("annotate", "translations", "push", *common, "--min-submitted", "2", env=argilla_env, workspace=ws)

    # the second reviewer is offered the machine translation, not the first reviewer's merged edit
    assert offered(second, "0") == mt["0"] != edit
    for item in ("0", "1"):  # and accepts what is offered: an approval, not a copy of the first one's edit
        answer(second, item, 4, offered(second, item))
    report = _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=ws)["languages"][0]
    agreement = report["agreement"]
    assert agreement["items_with_2plus_reviews"] == 2
    assert agreement["decision_percent_agreement"] == 0.5                       # item 0: post_edited vs approved
    assert agreement["decision_alpha_nominal"] == round(
        krippendorff_alpha([["post_edited", "approved"], ["approved", "approved"]], "nominal"), 3)
    assert agreement["error_labels_mean_jaccard"] == 0.5                        # ["untranslated"] vs [] ; [] vs []
    assert report["stored_reviews"] == 12 and report["reviews_per_annotator"] == {names[0]: 10, names[1]: 2}
    assert read_config(ds_dir, "fr")[0]["review_status"] == "post_edited"       # tie -> conservative

    rel = tmp_path / "rel"
    proc = run_cli("release", "--dataset", str(ds_dir), "--version", "1.0.0", "--out", str(rel), "--date", "2026-01-02",
                   "--json", workspace=ws, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["configs"]["reviews"] == 12
    rows = pq.read_table(rel / "reviews" / PARQUET_NAME).to_pylist()
    assert len(rows) == 12 and {r["reviewer"] for r in rows} == set(names)
    by = {(r["id"], r["reviewer"]): r for r in rows}
    assert (by[(0, names[0])]["decision"], by[(0, names[0])]["post_edit"], by[(0, names[0])]["rating"],
            by[(0, names[0])]["error_labels"]) == ("post_edited", edit, 3, ["untranslated"])
    assert (by[(0, names[1])]["decision"], by[(0, names[1])]["post_edit"]) == ("approved", mt["0"])
    assert all(r["submitted_at"] is not None for r in rows)
    card = (rel / "README.md").read_text(encoding="utf-8")
    alpha = agreement["decision_alpha_nominal"]
    assert f"| fr | 10 | 10 | 100.0% | 12 | 2 | 2 | {alpha:.3f} | 0.500 |" in card
    assert run_cli("release", "verify", str(rel), workspace=ws).returncode == 0


def _stack_dir() -> Path:
    """The local stack this session started (scripts/argilla_stack.sh's default location)."""
    explicit = os.environ.get("ARGILLA_STACK_DIR")
    root = Path(explicit) if explicit else Path(os.environ.get("BENCH_WORKSPACE") or "bench-workspace") / "argilla"
    return root if root.is_absolute() else REPO / root


def _dataset_bytes(ds_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(ds_dir)): p.read_bytes() for p in sorted(ds_dir.rglob("*")) if p.is_file()}


@pytest.mark.argilla
def test_pull_while_the_server_restarts_loses_and_duplicates_nothing(tmp_path, server, argilla_env):
    """A pull racing a server restart either completes or fails with one line and leaves the folder
    untouched; the next pull merges every response once, and the server kept every response."""
    stack = _stack_dir()
    if not (stack / "pids" / "argilla.pid").is_file():
        skip_or_fail(f"no local stack to restart at {stack} (pids/argilla.pid): start it with `make argilla-up`")
    ds_dir = _write_dataset(tmp_path / "ds", langs=("fr",))
    ws = tmp_path / "ws"
    common = ["--dataset", str(ds_dir), "--workspace-name", server.workspace]
    _cli_json("annotate", "translations", "push", *common, "--min-submitted", "2", env=argilla_env, workspace=ws)
    fr = server.dataset(server.workspace, "ds-translation-fr")
    records = server.records(fr["id"])
    mt = {str(r["id"]): r["machine_translation"] for r in read_config(ds_dir, "fr")}
    a, b = server.add_annotator(server.workspace), server.add_annotator(server.workspace)
    for item, record in records.items():
        server.respond(a, record, {"quality": 5, "post_edit": mt[item]})
        server.respond(b, record, {"quality": 4, "post_edit": mt[item] + " (relu)" if item == "3" else mt[item]})
    before = _dataset_bytes(ds_dir)

    env = {**os.environ, "ARGILLA_STACK_DIR": str(stack)}
    restart = subprocess.Popen(["bash", str(REPO / "scripts" / "argilla_stack.sh"), "restart-server"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pulls = []
    try:
        while restart.poll() is None:  # pull again and again while the server goes down and comes back
            pulls.append(run_cli("annotate", "translations", "pull", *common, "--json", workspace=ws,
                                 env=argilla_env, timeout=300))
    finally:
        log = restart.communicate(timeout=300)[0]
    assert restart.returncode == 0, log
    assert pulls, "the restart finished before any pull started"
    for proc in pulls:
        if proc.returncode != 0:  # failed against the restarting server: one line, nothing written
            assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-2000:]
            assert "Traceback" not in proc.stderr
        else:  # completed: the full merge
            assert json.loads(proc.stdout.strip().splitlines()[-1])["languages"][0]["reviewed"] == 10
    assert any(proc.returncode != 0 for proc in pulls), "no pull met the server down: the race was not exercised"
    if all(proc.returncode != 0 for proc in pulls):
        assert _dataset_bytes(ds_dir) == before

    final = _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=ws)["languages"][0]
    assert (final["reviewed"], final["complete"], final["responses"]) == (10, 10, {"submitted": 20})
    assert final["status_counts"] == {"approved": 9, "post_edited": 1}
    rows = {str(r["id"]): r for r in read_config(ds_dir, "fr")}
    assert rows["3"]["instruction"] == mt["3"] + " (relu)" and all(r["reviewers"] == 2 for r in rows.values())
    after = server.records(fr["id"])
    assert len(after) == 10 and sum(len(r["responses"]) for r in after.values()) == 20
    again = _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=ws)["languages"][0]
    assert again["status_counts"] == final["status_counts"] and read_config(ds_dir, "fr") == list(rows.values())


@pytest.mark.argilla
def test_pull_upgrades_a_folder_written_before_the_review_columns(tmp_path, server, argilla_env):
    import pyarrow as pa

    ds_dir = _write_dataset(tmp_path / "ds", langs=("fr", "es"))
    for lang in ("en", "fr", "es"):  # drop the review columns, as in folders built before they existed
        path = ds_dir / lang / PARQUET_NAME
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["reviewers", "reviewed_at"]), path)
    old_en = read_config(ds_dir, "en")
    common = ["--dataset", str(ds_dir), "--workspace-name", server.workspace, "--languages", "es"]
    bad = run_cli("annotate", "translations", "push", *common, "--api-key", "not-a-valid-key-123",
                  workspace=tmp_path / "ws", env=argilla_env)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert f"Argilla server at {server.url} rejected the API key" in bad.stderr
    assert "not-a-valid-key-123" not in bad.stderr + bad.stdout
    _cli_json("annotate", "translations", "push", *common, "--limit", "3", env=argilla_env, workspace=tmp_path / "ws")
    records = server.records(server.dataset(server.workspace, "ds-translation-es")["id"])
    assert sorted(records) == ["0", "1", "2"]
    user = server.add_annotator(server.workspace)
    server.respond(user, records["1"], {"quality": 4, "post_edit": "Explica por qué el cielo es azul."})
    rep = _cli_json("annotate", "translations", "pull", *common, env=argilla_env, workspace=tmp_path / "ws")
    assert rep["languages"][0]["reviewed"] == 1 and rep["languages"][0]["rows"] == 10
    schemas = [pq.read_schema(ds_dir / lang / PARQUET_NAME) for lang in ("en", "fr", "es")]
    assert schemas[0] == schemas[1] == schemas[2]
    assert schemas[0].field("reviewed_at").type == pa.timestamp("ms", tz="UTC")
    assert schemas[0].names.index("reviewers") == schemas[0].names.index("review_status") + 1
    es = {r["id"]: r for r in read_config(ds_dir, "es")}
    assert (es[1]["instruction"], es[1]["review_status"], es[1]["reviewers"]) == (
        "Explica por qué el cielo es azul.", "post_edited", 1)
    assert all(es[i]["review_status"] == "machine" and es[i]["reviewers"] == 0 for i in es if i != 1)
    assert [{k: v for k, v in r.items() if k not in ("reviewers", "reviewed_at")} for r in read_config(ds_dir, "en")] == old_en


# ---------------------------------------------------------------------------------------------
# critical errors


def _store_with_responses(ws: Path) -> dict[str, str]:
    """Four responses in a workspace store; returns {kind: response_id}."""
    from bench.workspace import Workspace

    answers = {
        "fine": ("Give me two tips to sleep better.", "Keep a regular schedule and avoid screens before bed.", "stop"),
        "empty": ("Name a colour.", "   ", "stop"),
        "loop": ("Describe a cat.", "The cat is nice. " * 60, "length"),
        "cut": ("Explain photosynthesis in detail.", "Photosynthesis is the process by which plants convert light",
                "length"),
    }
    w = Workspace(ws)
    ids = {}
    with w.store.transaction() as con:
        for i, (kind, (instruction, output, finish)) in enumerate(answers.items()):
            rid = f"resp-{kind}"
            ids[kind] = rid
            con.execute("INSERT INTO responses (response_id, run_key, model, method, lang, item_id, instruction, "
                        "category, output, finish_reason) VALUES (?, 'run1', 'tiny-model', 'zero-shot', 'en', ?, ?, "
                        "'regular', ?, ?)", [rid, str(i), instruction, output, finish])
    w.close()
    return ids


@pytest.mark.argilla
def test_errors_push_annotate_pull_precision_recall(tmp_path, server, argilla_env):
    ws = tmp_path / "ws"
    ids = _store_with_responses(ws)
    common = ["--workspace-name", server.workspace, "--dataset-name", "ce-test"]
    pushed = _cli_json("annotate", "errors", "push", *common, "--min-submitted", "2", env=argilla_env, workspace=ws)
    assert (pushed["records"], pushed["new"], pushed["created"]) == (4, 4, True)
    assert pushed["flagged_by_detector"] >= 2
    ds = server.dataset(server.workspace, "ce-test")
    records = server.records(ds["id"])
    assert set(records) == set(ids.values())
    questions = {q["name"]: q for q in server.call("GET", f"/api/v1/datasets/{ds['id']}/questions")["items"]}
    options = [o["value"] for o in questions["labels"]["settings"]["options"]]
    assert options[:6] == ["repetition_loop", "unintended_code", "wrong_language", "format_leak", "empty", "truncated"]
    assert options[6:] == ["other", "none"]
    sugg = server.call("GET", f"/api/v1/records/{records[ids['empty']]['id']}/suggestions")["items"]
    assert sugg[0]["value"] == ["empty"] and sugg[0]["score"] and sugg[0]["agent"].startswith("bench-detector")
    meta = server.call("GET", f"/api/v1/records/{records[ids['fine']]['id']}")["metadata"]
    assert meta["model"] == "tiny-model" and meta["method"] == "zero-shot" and meta["lang"] == "en"

    from bench.workspace import Workspace

    w = Workspace(ws)
    detected = {rid: set(labels) for rid, labels in w.store.query("SELECT response_id, labels FROM critical_error_checks")}
    w.close()

    a, b = server.add_annotator(server.workspace), server.add_annotator(server.workspace)
    human = {"fine": (["none"], ["none"]), "empty": (["empty"], ["empty"]),
             "loop": (["repetition_loop", "truncated"], ["repetition_loop"]), "cut": (["truncated"], ["other"])}
    for kind, (la, lb) in human.items():
        server.respond(a, records[ids[kind]], {"labels": la, "comment": f"a on {kind}"})
        if kind != "cut":
            server.respond(b, records[ids[kind]], {"labels": lb})
    server.respond(b, records[ids["cut"]], {"labels": lb}, "draft")   # not submitted: not pulled
    c = server.add_annotator(server.workspace)                      # contradictory: 'none' with an error label
    server.respond(c, records[ids["cut"]], {"labels": ["none", "truncated"]})

    report = _cli_json("annotate", "errors", "pull", *common, env=argilla_env, workspace=ws)
    assert (report["pulled_annotations"], report["annotated_records"], report["annotated_responses"]) == (8, 4, 4)
    assert report["responses"] == {"submitted": 8, "draft": 1}
    assert report["none_with_labels"] == [{"response_id": ids["cut"], "annotator": c["username"], "labels": ["truncated"]}]

    w = Workspace(ws)
    stored = w.store.query("SELECT response_id, annotator, labels, comment FROM error_annotations ORDER BY 1, 2")
    w.close()
    assert len(stored) == 8
    assert by_c_cut(stored, ids["cut"], c["username"]) == ["truncated"]     # the error label is kept
    by = {(r[0], r[1]): (list(r[2]), r[3]) for r in stored}
    assert by[(ids["fine"], a["username"])] == ([], "a on fine")       # 'none' is stored as no label
    assert by[(ids["loop"], b["username"])] == (["repetition_loop"], None)

    # expected numbers from the same rule: reference = labels chosen by >= half the annotators
    gold = {"fine": set(), "empty": {"empty"}, "loop": {"repetition_loop", "truncated"}, "cut": {"truncated"}}
    for label in ("empty", "repetition_loop", "truncated"):
        tp = sum(label in gold[k] and label in detected[ids[k]] for k in gold)
        fp = sum(label not in gold[k] and label in detected[ids[k]] for k in gold)
        fn = sum(label in gold[k] and label not in detected[ids[k]] for k in gold)
        m = report["labels"][label]
        assert (m["tp"], m["fp"], m["fn"]) == (tp, fp, fn), label
        assert m["precision"] == (round(tp / (tp + fp), 3) if tp + fp else None)
        assert m["recall"] == (round(tp / (tp + fn), 3) if tp + fn else None)
    assert report["labels"]["empty"]["tp"] == 1 and report["labels"]["empty"]["precision"] == 1.0
    assert report["agreement"]["items_with_2plus_annotators"] == 4

    # pushing again: no duplicates, responses kept; pulling again does not duplicate rows
    again = _cli_json("annotate", "errors", "push", *common, "--min-submitted", "2", env=argilla_env, workspace=ws)
    assert (again["records"], again["new"], again["updated"], again["created"]) == (4, 0, 4, False)
    after = server.records(ds["id"])
    assert len(after) == 4 and sum(len(r["responses"]) for r in after.values()) == 9
    report2 = _cli_json("annotate", "errors", "pull", *common, env=argilla_env, workspace=ws)
    assert report2["annotations"] == 8 and report2["labels"] == report["labels"]


def by_c_cut(stored, response_id: str, annotator: str) -> list[str]:
    return next(list(r[2]) for r in stored if (r[0], r[1]) == (response_id, annotator))


@pytest.mark.argilla
def test_a_second_stack_names_the_stack_holding_its_ports_and_starts_nothing(tmp_path):
    stack = _stack_dir()
    if not (stack / "pids" / "argilla.pid").is_file():
        skip_or_fail(f"no local stack at {stack} (pids/argilla.pid): start it with `make argilla-up`")
    other = tmp_path / "second" / "argilla"
    for ports in ({}, {"ARGILLA_STACK_REDIS_PORT": str(_free_port())}):  # redis free: the search engine's port
        env = {**os.environ, "ARGILLA_STACK_DIR": str(other), **ports}
        proc = subprocess.run(["bash", str(REPO / "scripts" / "argilla_stack.sh"), "up"], env=env, text=True,
                              capture_output=True, timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        assert f"held by the Argilla stack with data in {stack.resolve()}" in line, line
        assert ("(redis)" if not ports else "(search engine)") in line and "ARGILLA_STACK_PORT" in line
        assert not list((other / "pids").glob("*.pid"))                # nothing of the second stack was started
