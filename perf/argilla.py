"""Translation review at the dataset's real size on the local Argilla stack.

The full 1,000 Just-Eval instructions x fr, es (2,000 records) are built with a ``file:`` translator
(a deterministic stand-in translation; what is timed is the review path, not a model), then:

1. push (``bench annotate translations push``), timed: records/s;
2. re-push of the same dataset, timed, and checked to write nothing (``updated`` 0, all ``unchanged``);
3. a simulated reviewer submits 200 responses (rating + post-edit) through the REST endpoint the UI uses;
4. pull and merge into the dataset folder, timed: records/s.

Needs a running local stack (``make argilla-up``; ``ARGILLA_API_URL`` / ``ARGILLA_API_KEY`` as for
``bench annotate``); without one it prints ``{"skipped": ...}``. Target: push and pull each under 60 s.

    python perf/argilla.py [--reviewed 200]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from annotation.client import api_key_from_env, api_url_from_env, check_server  # noqa: E402

SOURCE = REPO.parent / "shared" / "data" / "just-eval-instruct" / "just_eval_instruct.jsonl"


def bench(*args: str, workspace: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "--workspace", str(workspace), *args, "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        sys.exit(f"bench {' '.join(args[:3])} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reviewed", type=int, default=200, help="responses the simulated reviewer submits")
    args = ap.parse_args()
    url, key = api_url_from_env(), api_key_from_env()
    try:
        check_server(url, key)
    except Exception as exc:  # noqa: BLE001 - any reason the stack is not there
        print(json.dumps({"skipped": f"no Argilla server at {url} ({str(exc).splitlines()[0][:120]}); "
                                     "start one with `make argilla-up`"}))
        return
    if not SOURCE.is_file():
        print(json.dumps({"skipped": f"{SOURCE} not found (../shared is absent)"}))
        return
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        rows = [json.loads(line) for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
        imports = tmp_path / "translations.jsonl"
        imports.write_text("".join(json.dumps({"id": r["id"], "lang": lang, "translation": f"[{lang}] {r['instruction']}"})
                                   + "\n" for r in rows for lang in ("fr", "es")), encoding="utf-8")
        ws, ds = tmp_path / "ws", tmp_path / f"review-{uuid.uuid4().hex[:6]}"
        bench("build-dataset", "--source", str(SOURCE), "--languages", "fr,es", "--translator", f"file:{imports}",
              "--out", str(ds), workspace=ws)
        workspace_name = f"perf-{uuid.uuid4().hex[:8]}"
        common = ("--dataset", str(ds), "--workspace-name", workspace_name)
        t0 = time.perf_counter()
        pushed = bench("annotate", "translations", "push", *common, workspace=ws)["datasets"]
        push_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = bench("annotate", "translations", "push", *common, workspace=ws)["datasets"]
        repush_s = time.perf_counter() - t0
        records = sum(d["records"] for d in pushed)

        client = httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": key}, timeout=60)
        ds_fr = next(d for d in client.get("/api/v1/me/datasets").json()["items"]
                     if d["name"] == pushed[0]["dataset"] and d["workspace_id"] in {
                         w["id"] for w in client.get("/api/v1/me/workspaces").json()["items"]
                         if w["name"] == workspace_name})
        page = client.get(f"/api/v1/datasets/{ds_fr['id']}/records", params={"limit": args.reviewed}).json()["items"]
        t0 = time.perf_counter()
        for rec in page:
            body = {"values": {"quality": {"value": 4}, "post_edit": {"value": rec["fields"]["translation"] + " (revu)"}},
                    "status": "submitted"}
            client.post(f"/api/v1/records/{rec['id']}/responses", json=body).raise_for_status()
        review_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pulled = bench("annotate", "translations", "pull", *common, workspace=ws)
        pull_s = time.perf_counter() - t0
        for d in client.get("/api/v1/me/datasets").json()["items"]:  # clean up the server
            if d["workspace_id"] == ds_fr["workspace_id"]:
                client.delete(f"/api/v1/datasets/{d['id']}")
        client.delete(f"/api/v1/workspaces/{ds_fr['workspace_id']}")
    merged = sum(lang.get("reviewed", 0) or 0 for lang in pulled.get("languages", []))
    result = {
        "push_records_per_s": round(records / push_s, 1), "pull_records_per_s": round(records / pull_s, 1),
        "push_s": round(push_s, 1), "pull_s": round(pull_s, 1), "repush_s": round(repush_s, 1),
        "records": records, "repush_updated": sum(d["updated"] for d in again),
        "repush_unchanged": sum(d.get("unchanged", 0) for d in again), "reviewed": len(page),
        "review_submit_s": round(review_s, 1), "pulled_reviewed_records": merged,
        "meets_target": push_s < 60 and pull_s < 60 and sum(d["updated"] for d in again) == 0,
    }
    print(f"push {records} records in {push_s:.1f}s, re-push {repush_s:.1f}s "
          f"({result['repush_unchanged']} unchanged, {result['repush_updated']} written), {len(page)} reviews "
          f"submitted in {review_s:.1f}s, pull + merge {pull_s:.1f}s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
