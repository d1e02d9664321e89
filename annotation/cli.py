"""``bench annotate``: human review in Argilla.

    bench annotate up | down | status                      # the local Argilla stack (loopback only)
    bench annotate translations push --dataset DIR --languages fr,es [--min-submitted 2]
    bench annotate translations pull --dataset DIR [--json]
    bench annotate errors push [--languages fr] [--limit 200] [--min-submitted 2]
    bench annotate errors pull [--json]
    bench annotate ratings push [--items 50] [--languages en,fr] [--min-submitted 2]   # the judge's rubric
    bench annotate ratings pull [--as human] [--judge JUDGE]
    bench annotate users add NAME... [--role annotator] [--password ...]   # reviewer accounts
    bench annotate users list [--all-workspaces]

Every command that talks to Argilla takes --api-url / --api-key (env ARGILLA_API_URL /
ARGILLA_API_KEY; default: the local stack) and --workspace-name (default ``bench``).
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from annotation.client import server_options
from bench.cli_options import json_option, languages_option
from bench.languages import parse_languages


def _console():
    from bench.progress import console

    return console


def _langs(value: str | None) -> list[str] | None:
    return parse_languages(value) if value else None


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.group("annotate")
def annotate() -> None:
    """Human review in Argilla: translation post-editing, critical-error confirmation and answer ratings."""


@annotate.command("up")
@click.pass_obj
def up_cmd(ctx) -> None:
    """Start the local Argilla stack (data in <workspace>/argilla; installs it on first use)."""
    from annotation import stack

    click.echo(stack.up(ctx.workspace.root))


@annotate.command("down")
@click.pass_obj
def down_cmd(ctx) -> None:
    """Stop the local Argilla stack of this workspace (its own processes only; data is kept)."""
    from annotation import stack

    stack.down(ctx.workspace.root)


@annotate.command("status")
@click.pass_obj
def status_cmd(ctx) -> None:
    """Show whether the local stack runs (exit 3 when it does not)."""
    from annotation import stack

    ok, text = stack.status(ctx.workspace.root)
    click.echo(text)
    if not ok:
        raise SystemExit(3)


# -- translations ----------------------------------------------------------------------------
@annotate.group("translations")
def translations() -> None:
    """Review machine translations: one Argilla dataset per language."""


_dataset_opt = click.option("--dataset", "dataset_dir", required=True, type=click.Path(file_okay=False, exists=True),
                            help="Dataset folder written by `bench build-dataset` (one parquet config per language).")
_prefix_opt = click.option("--name", "prefix", default=None,
                           help="Argilla dataset name prefix (datasets are PREFIX-<lang>; default: <folder>-translation).")


@translations.command("push")
@_dataset_opt
@languages_option("Target languages to push, comma-separated (default: all but en).")
@click.option("--min-submitted", type=click.IntRange(1, 50), default=1, show_default=True,
              help="Annotators who must submit each record (2+ gives overlap for agreement).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N items (by id) per language.")
@_prefix_opt
@server_options
@json_option()
def translations_push(dataset_dir, languages, min_submitted, limit, prefix, api_url, api_key, workspace_name, as_json):
    """Create or update the review datasets (idempotent: record id = item id)."""
    from annotation import translations as tr
    from annotation.client import connect

    langs = _langs(languages)
    prepared = tr.prepare_push(Path(dataset_dir), langs, limit)  # a bad folder fails before the server is asked
    conn = connect(api_url, api_key)
    reports = tr.push(conn, Path(dataset_dir), langs, workspace_name, min_submitted, prefix, limit, prepared=prepared)
    if as_json:
        click.echo(json.dumps({"datasets": reports}, ensure_ascii=False))
    for r in reports:
        verb = "created" if r["created"] else "updated"
        click.echo(f"{r['lang']}: {verb} {r['workspace']}/{r['dataset']}: {r['records']} records "
                   f"({r['new']} new, {r['updated']} updated), {r['min_submitted']} annotator(s) per record\n  {r['url']}",
                   err=True)
        if r.get("dropped_label_suggestions"):
            click.echo(f"  removed {r['dropped_label_suggestions']} pre-ticked error-label suggestion(s) of an older "
                       "push (reviewers now tick labels themselves)", err=True)


_to_eval_split = click.option("--split", "eval_split", default="dev", show_default=True,
                              type=click.Choice(["dev", "test"]), help="Split the records appended with --to-eval "
                                                                       "belong to.")


@translations.command("pull")
@_dataset_opt
@languages_option("Languages to pull, comma-separated (default: all but en).")
@_prefix_opt
@server_options
@click.option("--to-eval", "to_eval", default=None, type=click.Path(dir_okay=False),
              help="Also append the reviewed machine translations to this QA evaluation file (e.g. "
                   "evaluation/translation_qa/parts/dev-argilla.jsonl), review labels mapped to QA flags, with "
                   "their provenance.")
@_to_eval_split
@json_option()
@click.pass_obj
def translations_pull(ctx, dataset_dir, languages, prefix, api_url, api_key, workspace_name, to_eval, eval_split,
                      as_json):
    """Store every submitted review in the workspace store, merge them into the dataset folder; report
    coverage and agreement (`bench release` exports the stored reviews as the `reviews` config)."""
    from annotation import translations as tr
    from annotation.client import connect

    langs = _langs(languages)
    checked = tr.check_pull(Path(dataset_dir), langs)  # a bad folder fails before the server is asked
    conn = connect(api_url, api_key)
    reports = tr.pull(conn, Path(dataset_dir), langs, workspace_name, prefix, store=ctx.workspace.store)
    eval_records = None
    if to_eval:
        from annotation.error_labels_export import append_records
        from annotation.review_labels_export import dataset_sources, reviewed_records

        review_set = prefix or tr.default_prefix(Path(dataset_dir))
        records = reviewed_records(ctx.workspace.store, review_set, dataset_sources(dataset_dir, checked),
                                   eval_split, checked)
        added, kept = append_records(to_eval, records)
        eval_records = {"file": to_eval, "added": added, "already_there": kept}
        click.echo(f"{to_eval}: {added} reviewed translations added ({kept} already there)", err=True)
    if as_json:
        click.echo(json.dumps({"languages": reports, "rule": tr.RESOLUTION_RULE, "eval_records": eval_records},
                              ensure_ascii=False, default=str))
    _print_translation_pull(reports)


def _fmt(x) -> str:
    return "-" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))


def _print_translation_pull(reports) -> None:
    from rich.table import Table

    table = Table(title="translation review (merged into the dataset folder)")
    table.add_column("")
    for r in reports:
        table.add_column(f"{r['lang']}", justify="right")
    lines = [
        ("rows", lambda r: r["rows"]), ("reviewed (>= 1 submitted)", lambda r: r["reviewed"]),
        ("complete (>= min_submitted)", lambda r: f"{r['complete']} (min {r['min_submitted']})"),
        ("coverage", lambda r: r["coverage"]),
        *[(status, (lambda s: lambda r: r["status_counts"].get(s, 0))(status))
          for status in ("post_edited", "approved", "rejected", "machine")],
        ("annotators", lambda r: len(r["annotators"])),
        ("items with 2+ reviews", lambda r: r["agreement"]["items_with_2plus_reviews"]),
        ("rating alpha (ordinal)", lambda r: _alpha(r["agreement"], "rating")),
        ("decision alpha (nominal)", lambda r: _alpha(r["agreement"], "decision")),
        ("decision % agreement", lambda r: r["agreement"]["decision_percent_agreement"]),
        ("error labels mean Jaccard", lambda r: r["agreement"]["error_labels_mean_jaccard"]),
    ]
    for name, get in lines:
        table.add_row(name, *[_fmt(get(r)) for r in reports])
    _console().print(table)
    click.echo("resolution: " + (reports[0]["rule"] if reports else ""), err=True)
    for r in reports:
        if r.get("stored_reviews") is not None:
            click.echo(f"{r['lang']}: {r['stored_reviews']} submitted reviews stored (review set {r['review_set']!r}; "
                       "`bench release` exports them as the `reviews` config)", err=True)


def _alpha(agreement: dict, kind: str) -> str:
    """The alpha, or why it is undefined (every reviewer agreeing leaves nothing to measure)."""
    value = agreement.get(f"{kind}_alpha_nominal" if kind == "decision" else f"{kind}_alpha_ordinal")
    note = agreement.get(f"{kind}_alpha_note")
    return _fmt(value) if value is not None or not note else f"- ({note})"


# -- critical errors -------------------------------------------------------------------------
@annotate.group("errors")
def errors() -> None:
    """Confirm critical errors in model responses of the store."""


_name_opt = click.option("--dataset-name", "name", default="critical-errors", show_default=True,
                         help="Argilla dataset name.")


@errors.command("push")
@languages_option("Only responses in these languages.")
@click.option("--models", default=None, help="Only these models (comma-separated display names).")
@click.option("--methods", default=None, help="Only these methods (zero-shot, urial, chat, dpo, published).")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most N responses (in response_id order).")
@click.option("--flagged-only", is_flag=True, help="Only responses the detectors flagged.")
@click.option("--min-submitted", type=click.IntRange(1, 50), default=1, show_default=True,
              help="Annotators who must submit each record.")
@_name_opt
@server_options
@json_option()
@click.pass_obj
def errors_push(ctx, languages, models, methods, limit, flagged_only, min_submitted, name, api_url, api_key,
                workspace_name, as_json):
    """Push responses with the detectors' labels as suggestions (idempotent: record id = response_id)."""
    from annotation import errors as er
    from annotation.client import connect

    langs = _langs(languages)  # bad options fail before the server is asked
    conn = connect(api_url, api_key)
    r = er.push(conn, ctx.workspace, name=name, workspace=workspace_name, min_submitted=min_submitted,
                languages=langs, models=_csv(models), methods=_csv(methods), limit=limit,
                flagged_only=flagged_only)
    if as_json:
        click.echo(json.dumps(r, ensure_ascii=False))
    verb = "created" if r["created"] else "updated"
    click.echo(f"{verb} {r['workspace']}/{r['dataset']}: {r['records']} responses ({r['new']} new, "
               f"{r['updated']} updated; {r['flagged_by_detector']} flagged by the detectors)\n  {r['url']}", err=True)


@errors.command("pull")
@_name_opt
@server_options
@click.option("--to-eval", "to_eval", default=None, type=click.Path(dir_okay=False),
              help="Also append the labelled responses to this evaluation file (e.g. "
                   "evaluation/critical_errors/parts/dev-argilla.jsonl), with their provenance.")
@_to_eval_split
@json_option()
@click.pass_obj
def errors_pull(ctx, name, api_url, api_key, workspace_name, to_eval, eval_split, as_json):
    """Store submitted labels in the workspace; report detector precision/recall against them."""
    from annotation import errors as er
    from annotation.client import connect

    conn = connect(api_url, api_key)
    r = er.pull(conn, ctx.workspace, name=name, workspace=workspace_name)
    if to_eval:
        from annotation.error_labels_export import append_records, labelled_records

        added, kept = append_records(to_eval, labelled_records(ctx.workspace, eval_split))
        r["eval_records"] = {"file": to_eval, "added": added, "already_there": kept}
        click.echo(f"{to_eval}: {added} labelled responses added ({kept} already there)", err=True)
    if as_json:
        click.echo(json.dumps(r, ensure_ascii=False, default=str))
    from rich.table import Table

    table = Table(title=f"detectors ({r['detector_version']}) vs human labels: {r['annotated_responses']} responses, "
                        f"{len(r['annotators'])} annotator(s)")
    table.add_column("label", no_wrap=True)
    for col in ("precision", "recall", "F1", "support", "tp", "fp", "fn", "IAA α"):
        table.add_column(col, justify="right")
    for label, m in r["labels"].items():
        table.add_row(label, _fmt(m["precision"]), _fmt(m["recall"]), _fmt(m["f1"]), str(m["support"]), str(m["tp"]),
                      str(m["fp"]), str(m["fn"]), _fmt(r["agreement"]["per_label_alpha"].get(label)))
    m = r["micro"]
    table.add_row("micro", _fmt(m["precision"]), _fmt(m["recall"]), _fmt(m["f1"]), str(m["support"]), str(m["tp"]),
                  str(m["fp"]), str(m["fn"]), "")
    con = _console()
    con.print(table)
    click.echo(f"pulled {r['pulled_annotations']} submitted annotations of {r['annotated_records']} of "
              f"{r['server_records']} records (coverage {_fmt(r['coverage'])}); {r['rule']}", err=True)
    for c in r["none_with_labels"]:
        click.echo(f"conflict: {c['annotator']} ticked 'No critical error' with {', '.join(c['labels'])} on "
                   f"{c['response_id']}: the error labels were kept", err=True)


# -- human ratings ---------------------------------------------------------------------------
@annotate.group("ratings")
def ratings() -> None:
    """Rate model answers on the judge's rubric (5 aspects; safety for safety items): a human reference."""


_ratings_name_opt = click.option("--dataset-name", "name", default="answer-ratings", show_default=True,
                                 help="Argilla dataset name (safety items go to NAME-safety).")


@ratings.command("push")
@languages_option("Only answers in these languages.")
@click.option("--models", default=None, help="Only these models (comma-separated display names).")
@click.option("--methods", default=None, help="Only these methods (zero-shot, urial, chat, dpo, published).")
@click.option("--items", type=click.IntRange(1), default=None,
              help="Rate the answers to N items (a seeded, nested sample: a larger N keeps the smaller one's items).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the item sample.")
@click.option("--min-submitted", type=click.IntRange(1, 50), default=1, show_default=True,
              help="Raters who must submit each record (2+ measures the raters' own agreement).")
@_ratings_name_opt
@server_options
@json_option()
@click.pass_obj
def ratings_push(ctx, languages, models, methods, items, seed, min_submitted, name, api_url, api_key, workspace_name,
                 as_json):
    """Push every selected system's answers to a sample of items for blind rating (idempotent: record id =
    response_id)."""
    from annotation import ratings as ra
    from annotation.client import connect

    langs = _langs(languages)
    conn = connect(api_url, api_key)
    reports = ra.push(conn, ctx.workspace, name=name, workspace=workspace_name, min_submitted=min_submitted,
                      languages=langs, models=_csv(models), methods=_csv(methods), items=items, seed=seed)
    if as_json:
        click.echo(json.dumps({"datasets": reports}, ensure_ascii=False))
    for r in reports:
        verb = "created" if r["created"] else "updated"
        click.echo(f"{r['protocol']}: {verb} {r['workspace']}/{r['dataset']}: {r['records']} answers to {r['items']} "
                   f"items from {r['systems']} systems ({r['new']} new, {r['updated']} updated, {r['unchanged']} "
                   f"unchanged), {r['min_submitted']} rater(s) per record\n  {r['url']}", err=True)


@ratings.command("pull")
@_ratings_name_opt
@click.option("--as", "reference", default="human", show_default=True,
              help="Name the ratings get in the store (a judge name for `bench results agreement --reference`).")
@click.option("--judge", default=None,
              help="Also print this judge's agreement with the ratings (as `bench results agreement`).")
@click.option("--min-items", default=10, show_default=True, type=click.IntRange(min=1),
              help="With --judge: fewest rated responses the judge must share with the ratings.")
@server_options
@json_option()
@click.pass_obj
def ratings_pull(ctx, name, reference, judge, min_items, api_url, api_key, workspace_name, as_json):
    """Store submitted ratings; their mean per answer and aspect becomes the reference REFERENCE (--as)."""
    from annotation import ratings as ra
    from annotation.client import connect

    ra.check_reference_name(ctx.workspace, reference)  # before the server is asked
    conn = connect(api_url, api_key)
    r = ra.pull(conn, ctx.workspace, name=name, workspace=workspace_name, reference=reference)
    if judge:
        from baselines.judging.agreement import agreement_report

        r["agreement"] = agreement_report(ctx.workspace.read_store, judge, reference, None, min_items)
    if as_json:
        click.echo(json.dumps(r, ensure_ascii=False, default=str))
    from rich.table import Table

    table = Table(title=f"human ratings '{r['reference']}': {r['rated_responses']} answers, "
                        f"{len(r['annotators'])} rater(s)")
    for col in ("aspect", "answers", "ratings", "mean", "answers 2+ raters", "raters' α (ordinal)"):
        table.add_column(col, justify="left" if col == "aspect" else "right")
    for a in r["aspects"]:
        table.add_row(a["aspect"], str(a["responses"]), str(a["ratings"]), _fmt(a["mean"]), str(a["responses_2plus"]),
                      _fmt(a["alpha_ordinal"]))
    con = _console()
    con.print(table)
    click.echo(f"pulled {r['pulled_ratings']} ratings of {r['server_records']} records (coverage {_fmt(r['coverage'])}); "
               f"{r['rule']}; measure a judge with `bench results agreement --judge JUDGE --reference {reference}`",
               err=True)
    if judge:
        from baselines.judging.agreement_report import render_table

        click.echo(render_table(r["agreement"]), nl=False, err=as_json)  # stdout holds only the JSON


# -- users -----------------------------------------------------------------------------------
@annotate.group("users")
def users() -> None:
    """Reviewer accounts: create them and add them to the review workspace (owner key needed)."""


@users.command("add")
@click.argument("usernames", nargs=-1, required=True)
@click.option("--password", envvar="ARGILLA_NEW_USER_PASSWORD", default=None,
              help="Password of new users (env ARGILLA_NEW_USER_PASSWORD; asked, hidden, when missing). "
                   "Existing users keep theirs.")
@click.option("--role", type=click.Choice(["annotator", "admin"]), default="annotator", show_default=True)
@server_options
@json_option()
def users_add(usernames, password, role, api_url, api_key, workspace_name, as_json):
    """Create reviewers (when missing) and add them to the workspace (--workspace-name)."""
    from annotation import users as us
    from annotation.client import connect

    conn = connect(api_url, api_key)
    done = []
    for name in usernames:
        if password is None and us.find_user(conn, name) is None:
            password = click.prompt(f"password for new user(s) ({us.MIN_PASSWORD}+ characters)", hide_input=True,
                                    confirmation_prompt=True, err=True)
        done.append(us.add_user(conn, name, password, role=role, workspace=workspace_name))
    if as_json:
        click.echo(json.dumps({"users": done}, ensure_ascii=False))
    for r in done:
        what = "created" if r["created"] else "exists"
        where = "added to" if r["added_to_workspace"] else "already in"
        click.echo(f"{r['username']} ({r['role']}): {what}, {where} workspace {r['workspace']}", err=True)


@users.command("list")
@click.option("--all-workspaces", is_flag=True, help="Every user of the server, not only the workspace's.")
@server_options
@json_option()
def users_list(all_workspaces, api_url, api_key, workspace_name, as_json):
    """Users of the workspace (--workspace-name) with their role and workspaces."""
    from annotation import users as us
    from annotation.client import connect

    conn = connect(api_url, api_key)
    rows = us.list_users(conn, None if all_workspaces else workspace_name)
    if as_json:
        click.echo(json.dumps({"users": rows}, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=f"Argilla users ({'all' if all_workspaces else 'workspace ' + workspace_name})")
    for col in ("username", "role", "workspaces"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["username"], r["role"], ", ".join(r["workspaces"]))
    _console().print(table)


def register(cli: click.Group) -> None:
    """Attach ``bench annotate`` to the main CLI."""
    cli.add_command(annotate)
