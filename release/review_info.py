"""Reviewers and agreement for the release card, from ``--review-info`` (JSON)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.json_records import read_json
from release.values import is_count, is_number


def load_review_info(path: str | Path | None) -> dict[str, Any]:
    """Reviewers and agreement for the card, from an optional JSON file: either the report of
    ``bench annotate translations pull --json`` (``languages``: annotators and agreement per
    language, ``rule``) or ``{"reviewers": [names], "agreement": text | {metric, value, items}}``."""
    empty = {"reviewers": [], "agreement": None, "rule": None}
    if path is None:
        return empty
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(str(path), "expected a JSON object (reviewers + agreement, or an annotate pull report)")
    if "languages" in data:
        return _pull_report_info(path, data)
    unknown = set(data) - {"reviewers", "agreement", "rule"}
    if unknown:
        raise InputError(str(path), "unknown key (expected reviewers, agreement, rule)", field=sorted(unknown)[0])
    reviewers = data.get("reviewers") or []
    if not isinstance(reviewers, list):
        raise InputError(str(path), f"expected a list of reviewer names, not {type(reviewers).__name__}",
                         field="reviewers")
    for n, name in enumerate(reviewers):
        if not isinstance(name, str) or not name.strip():
            raise InputError(str(path), f"expected a reviewer name, not {name!r}", field=f"reviewers[{n}]")
    agreement = data.get("agreement")
    if isinstance(agreement, dict):
        extra = set(agreement) - {"metric", "value", "items"}
        if extra:
            raise InputError(str(path), "unknown key (expected metric, value, items)",
                             field=f"agreement.{sorted(extra)[0]}")
        metric, value, items = agreement.get("metric"), agreement.get("value"), agreement.get("items")
        if not isinstance(metric, str) or not metric.strip():
            raise InputError(str(path), f"expected the metric's name, not {metric!r}", field="agreement.metric")
        if not is_number(value):
            raise InputError(str(path), f"expected a number, not {value!r}", field="agreement.value")
        if items is not None and not is_count(items):
            raise InputError(str(path), f"expected a count of items, not {items!r}", field="agreement.items")
        agreement = f"{metric} = {value:.3f}" + (f" on {items} items reviewed by two or more people" if items else "")
    elif agreement is not None and not isinstance(agreement, str):
        raise InputError(str(path), f"expected a text or {{metric, value, items}}, not {type(agreement).__name__}",
                         field="agreement")
    rule = data.get("rule")
    if rule is not None and not isinstance(rule, str):
        raise InputError(str(path), f"expected a text, not {type(rule).__name__}", field="rule")
    return {"reviewers": sorted({r.strip() for r in reviewers}), "agreement": agreement, "rule": rule}


_AGREEMENT_KEYS = (("decision_alpha_nominal", "decision Krippendorff's alpha (nominal)"),
                   ("decision_percent_agreement", "decision percent agreement"),
                   ("rating_alpha_ordinal", "rating alpha (ordinal)"))


def _pull_report_info(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    languages = data["languages"]
    if not isinstance(languages, list):
        raise InputError(str(path), f"expected a list of per-language reports, not {type(languages).__name__}",
                         field="languages")
    reviewers: set[str] = set()
    parts = []
    for n, report in enumerate(languages):
        if not isinstance(report, dict) or not isinstance(report.get("lang"), str) or not report["lang"].strip():
            raise InputError(str(path), "expected a per-language report with a 'lang' text", record=f"languages[{n}]",
                             field="lang")
        lang = report["lang"]
        names = report.get("annotators") or []
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            raise InputError(str(path), "expected a list of annotator names", record=lang, field="annotators")
        reviewers.update(x.strip() for x in names if x.strip())
        agreement = report.get("agreement") or {}
        if not isinstance(agreement, dict):
            raise InputError(str(path), f"expected an object (as `bench annotate translations pull --json` writes), "
                                        f"not {type(agreement).__name__}", record=lang, field="agreement")
        for key in (*(k for k, _ in _AGREEMENT_KEYS), "items_with_2plus_reviews"):
            value = agreement.get(key)
            ok = is_count(value) if key == "items_with_2plus_reviews" else is_number(value)
            if value is not None and not ok:
                raise InputError(str(path), f"expected a number or null, not {value!r}", record=lang,
                                 field=f"agreement.{key}")
        values = [f"{label} {agreement[key]:.3f}" for key, label in _AGREEMENT_KEYS if agreement.get(key) is not None]
        items = agreement.get("items_with_2plus_reviews")
        if values:
            parts.append(f"{lang}: " + ", ".join(values) + (f" on {items} items reviewed by two or more "
                                                            "people" if items else ""))
        elif items == 0:
            parts.append(f"{lang}: no item reviewed by two or more people")
    rule = data.get("rule") if isinstance(data.get("rule"), str) else None
    return {"reviewers": sorted(reviewers), "agreement": "; ".join(parts) or None, "rule": rule}
