"""Leaderboard plots: grouped bars of the overall score and a heatmap of critical-error rates.

The images may be published: names are drawn in public form (:func:`baselines.leaderboard.render.public_rows`)
and every label is literal text (no mathtext: a name like ``j$\\x$`` is drawn as written).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def plot_leaderboard(rows: Sequence[dict[str, Any]], out: str | Path,
                     error_rows: Sequence[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    """Grouped bars of overall per model (series: method/language) and a heatmap of error rates.

    ``error_rows`` (:func:`baselines.leaderboard.queries.error_rate_rows`) gives each system's error rates over
    all its responses; without it they come from ``rows`` (per judge: the row covering most responses).
    Writes ``out`` and ``<stem>_errors.png`` beside it; returns both paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from baselines.leaderboard.render import public_rows

    rows = public_rows(rows)
    error_rows = None if error_rows is None else public_rows(error_rows)
    with plt.rc_context({"text.parse_math": False, "text.usetex": False}):  # labels are literal text
        return _draw(rows, Path(out), error_rows)


def _draw(rows: Sequence[dict[str, Any]], out: Path,
          error_rows: Sequence[dict[str, Any]] | None) -> tuple[Path, Path]:
    import matplotlib.pyplot as plt
    import numpy as np

    from bench.atomic import atomic_path

    errors_out = out.with_name(f"{out.stem}_errors{out.suffix or '.png'}")
    judges = sorted({r["judge"] or "(none)" for r in rows})
    many_judges = len(judges) > 1

    def xlabel(r):
        return r["model"] + (f"\n[{r['judge'] or 'no judge'}]" if many_judges else "")

    groups = list(dict.fromkeys(xlabel(r) for r in rows))
    all_series = list(dict.fromkeys(f"{r['method']} / {r['language']}" for r in rows))
    values = {(xlabel(r), f"{r['method']} / {r['language']}"): r for r in rows}
    # a series without any score gets no bar, colour or legend entry: it is named under the chart instead
    series = [name for name in all_series if any((values.get((g, name)) or {}).get("overall") is not None
                                                 for g in groups)]
    unscored = [name for name in all_series if name not in series]

    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) * max(1, len(series)) ** 0.5 + 2), 4.8))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    cmap = plt.get_cmap("tab10" if len(series) <= 10 else "tab20")
    n_colours = 10 if len(series) <= 10 else 20
    for s_index, name in enumerate(series):
        heights, lows, highs, present = [], [], [], []
        for g in groups:
            r = values.get((g, name))
            v = None if r is None else r.get("overall")
            present.append(v is not None)
            heights.append(v if v is not None else 0.0)
            ci = None if r is None else r.get("overall_ci")
            lows.append(v - ci[0] if v is not None and ci else 0.0)
            highs.append(ci[1] - v if v is not None and ci else 0.0)
        pos = x - 0.4 + width * (s_index + 0.5)
        mask = np.array(present)
        bars = ax.bar(pos[mask], np.array(heights)[mask], width * 0.92, label=name, color=cmap(s_index % n_colours),
                      yerr=[np.array(lows)[mask], np.array(highs)[mask]], capsize=3, error_kw={"elinewidth": 1})
        tops = np.array(heights)[mask] + np.array(highs)[mask]
        for bar, h, top in zip(bars, np.array(heights)[mask], tops):
            ax.annotate(f"{h:.2f}", (bar.get_x() + bar.get_width() / 2, min(top, 5.0) + 0.08), ha="center",
                        va="bottom", fontsize=7, rotation=90 if len(series) > 2 else 0)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=30 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center",
                       fontsize=8)
    ax.set_ylim(0, 5.35 if len(series) > 2 else 5.2)  # from 0, so that a score of 1.00 still shows a bar
    ax.set_ylabel("overall score (1–5), 95% CI")
    ax.set_title("Overall score per model, by method and language")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if series:
        ax.legend(title="method / language", fontsize=8, title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    if unscored:
        fig.text(0.01, 0.01, "no score (every cell missing): " + ", ".join(unscored), fontsize=8, ha="left",
                 va="bottom", color="#555555", wrap=True)
    fig.tight_layout(rect=(0, 0.06 if unscored else 0, 1, 1))
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)

    # heatmap of critical-error rates: one row per model / method / language (errors do not depend on
    # the judge; when several judges' rows exist, the one covering most responses is used)
    source = rows if error_rows is None else error_rows
    labels = sorted({k for r in source for k in r if k.startswith("err_") and not k.endswith("_ci")})
    if labels and any(r.get("cap_rate") is not None for r in source):
        labels.append("cap_rate")  # the last column, set apart: a fact of max_new_tokens, not a detector label
    by_system: dict[str, dict[str, Any]] = {}
    for r in sorted(source, key=lambda r: -r["n"]):
        name = f"{r['model']} / {r['method']} / {r['language']}"
        if name not in by_system or all(by_system[name].get(k) is None for k in labels):
            by_system[name] = {k: r.get(k) for k in labels}
    order = list(dict.fromkeys(f"{r['model']} / {r['method']} / {r['language']}" for r in source))
    by_system = {name: by_system[name] for name in order}
    systems = list(by_system)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(labels) + 4), max(2.5, 0.45 * len(systems) + 1.8)))
    if not labels or not systems:
        ax.axis("off")
        ax.text(0.5, 0.5, "no critical-error checks in the store", ha="center", va="center", fontsize=12)
    else:
        grid = np.array([[np.nan if by_system[s][k] is None else 100 * by_system[s][k] for k in labels]
                         for s in systems])
        vmax = max(1.0, float(np.nanmax(grid)) if np.isfinite(grid).any() else 1.0)
        ax.set_facecolor("#d9d9d9")  # masked (not checked) cells show grey, distinct from 0%
        im = ax.imshow(np.ma.masked_invalid(grid), cmap="Reds", vmin=0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(["stopped at token cap" if k == "cap_rate" else k[4:].replace("_", " ") for k in labels],
                           rotation=30, ha="right", fontsize=8)
        if labels[-1] == "cap_rate":
            ax.axvline(len(labels) - 1.5, color="black", linewidth=2)
        ax.set_yticks(range(len(systems)))
        ax.set_yticklabels(systems, fontsize=8)
        for i in range(len(systems)):
            for j in range(len(labels)):
                v = grid[i, j]
                ax.text(j, i, "not checked" if np.isnan(v) else f"{v:.1f}%", ha="center", va="center", fontsize=8,
                        color="white" if not np.isnan(v) and v > 0.6 * vmax else "black")
        fig.colorbar(im, ax=ax, label="% of checked responses")
    ax.set_title("Critical-error rates (all responses, latest detector run each)" if error_rows is not None
                 else "Critical-error rates (latest detector run per response)")
    fig.tight_layout()
    with atomic_path(errors_out) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)
    return out, errors_out
