"""A judge's provenance: the settings it ran with, kept in the store (``judge_settings``) for the results card.

:func:`record_judge_settings` stores, once per judge name and distinct settings, the backend's
:meth:`~baselines.judging.backends.JudgeBackend.settings` (backend, model, revision or file hash, dtype,
device, scoring mode, max tokens...) with the prompt version; :func:`judge_settings` reads them back for a
release. :func:`check_same_scoring` keeps one judge name to one scoring mode, so text-parsed and
probability-read scores never mix under one name.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from bench.errors import BenchError
from bench.public_names import public_name


def check_same_scoring(store: Any, judge: str, scoring: str) -> None:
    """Refuse ``judge`` when its stored judgements were scored another way (NULL = text, before the column)."""
    rows = store.query("SELECT DISTINCT coalesce(scoring, 'text') FROM judgements WHERE judge = ?", [judge])
    other = sorted(r[0] for r in rows if r[0] != scoring)
    if other:
        raise BenchError(f"judge name '{judge}' already holds judgements scored with '{other[0]}', not '{scoring}'; "
                         f"give --scoring {other[0]} to go on with them, or --name to keep the two apart")


def record_judge_settings(store: Any, judge: str, settings: Mapping[str, Any], run_id: str | None) -> str:
    """Store ``settings`` of ``judge`` (a new row for new settings, else the row's last run); their hash."""
    from bench.store import utcnow

    text = json.dumps(dict(settings), sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    now = utcnow()
    with store.transaction() as con:
        updated = con.execute("UPDATE judge_settings SET last_run_id = ?, last_seen = ? WHERE judge = ? AND "
                              "settings_hash = ?", [run_id, now, judge, digest]).fetchone()[0]
        if not updated:
            con.execute("INSERT INTO judge_settings (judge, settings_hash, settings, first_run_id, last_run_id, "
                        "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [judge, digest, text, run_id, run_id, now, now])
    return digest


def judge_settings(store: Any, judges: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """``[{"judge", "settings"}]`` per judge name and distinct settings (oldest first), names in public form.

    ``judges``: only these stored names (None: every judge)."""
    sql = "SELECT judge, settings FROM judge_settings"
    params: list[Any] = []
    if judges is not None:
        sql += " WHERE list_contains(?, judge)"
        params.append(list(judges))
    out = []
    for judge, settings in store.query(sql + " ORDER BY judge, first_seen, settings_hash", params):
        values = json.loads(settings) if isinstance(settings, str) else dict(settings)
        out.append({"judge": public_name(judge),
                    "settings": {k: public_name(v) if isinstance(v, str) else v for k, v in sorted(values.items())}})
    return out


__all__ = ["check_same_scoring", "judge_settings", "record_judge_settings"]
