"""CLI of the release stage: ``bench release`` (build; ``verify`` subcommand) and ``bench push-to-hub``."""
from __future__ import annotations

import json
import shlex

import click

from bench.cli_options import json_option, languages_option


@click.group("release", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--dataset", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Dataset folder written by build-dataset (reviews merged).")
@click.option("--version", "version", default=None, metavar="X.Y.Z", help="Release version (semantic).")
@click.option("--out", type=click.Path(file_okay=False), default=None, metavar="REL", help="Release folder to write.")
@click.option("--results", is_flag=True,
              help="Add the responses, judgements and critical_errors configs from the workspace store.")
@click.option("--judge", default=None, help="With --results: only this judge's judgements (default: all).")
@click.option("--agreement-reference", default=None, metavar="JUDGE",
              help="With --results: the results card reports each released judge's agreement with this judge "
                   "(e.g. published GPT judgements imported with `bench results import-just-eval`).")
@click.option("--allow-unreviewed", is_flag=True,
              help="Allow rows no one reviewed (review_status 'machine'); the card says so.")
@languages_option("Language configs to release, comma-separated (default: every config of the dataset).",
                  metavar="LIST")
@click.option("--review-info", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Reviewers and agreement for the card: the JSON of `bench annotate translations pull --json`, "
                   "or {reviewers: [names], agreement: text | {metric, value, items}}.")
@click.option("--review-set", default=None, metavar="NAME",
              help="Argilla dataset-name prefix whose stored reviews (`bench annotate translations pull`) become the "
                   "`reviews` config (default: <dataset folder>-translation, as push/pull).")
@click.option("--previous", type=click.Path(file_okay=False), default=None, metavar="REL",
              help="The previous release: its CHANGELOG.md is continued and data changes are listed.")
@click.option("--notes", default=None, help="Free text for this release's CHANGELOG entry.")
@click.option("--date", default=None, metavar="YYYY-MM-DD",
              help="Release date (default: $SOURCE_DATE_EPOCH, else today); fix it for byte-identical rebuilds.")
@click.option("--source-dataset", default=None, metavar="ORG/NAME",
              help="The Hub dataset the instructions come from, for the card's source_datasets (default: the "
                   "build's --source when it is a Hub id; a local source file is not claimed to be any dataset).")
@json_option("Print the release report as JSON.")
@click.pass_context
def release_cmd(ctx, dataset, version, out, results, judge, agreement_reference, allow_unreviewed, languages, review_info, review_set,
                previous, notes, date, source_dataset, as_json) -> None:
    """Assemble a versioned release folder: configs per language (+ results), cards, MANIFEST, CHANGELOG.

    \b
    bench release --dataset DIR --version 1.0.0 --out REL [--results] [--allow-unreviewed]
    bench release verify REL
    """
    if ctx.invoked_subcommand is not None:
        given = [name for name, value in ctx.params.items() if value not in (None, False)]
        if given:
            raise click.UsageError(f"--{given[0].replace('_', '-')} goes with `bench release --dataset ...`, "
                                   f"not with `bench release {ctx.invoked_subcommand}`")
        return
    missing = [flag for flag, value in (("--dataset", dataset), ("--version", version), ("--out", out)) if not value]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (bench release --dataset DIR --version X.Y.Z --out REL)")
    from release.assemble import build_release

    report = build_release(dataset, out, version, ws=ctx.obj.workspace, results=results, review_set=review_set,
                           judge=judge, allow_unreviewed=allow_unreviewed,
                           languages=languages.split(",") if languages else None, review_info=review_info,
                           previous=previous, notes=notes, date=date, source_dataset=source_dataset,
                           agreement_reference=agreement_reference)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    configs = ", ".join(f"{name} ({rows})" for name, rows in report.configs.items())
    click.echo(f"release {report.version} ({report.date}) written to {report.out}: {report.files} files, "
               f"{report.bytes} bytes; configs: {configs}")
    if report.review_coverage:
        click.echo("review coverage: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in report.review_coverage.items()))
    if report.unreviewed:
        click.echo("unreviewed rows (--allow-unreviewed, said in the card): "
                   + ", ".join(f"{k} {v}" for k, v in report.unreviewed.items()))
    if report.rejected:
        click.echo("rejected rows (machine translation kept, said in the card): "
                   + ", ".join(f"{k} {v}" for k, v in report.rejected.items()))
    for note in report.notes:
        click.echo(f"note: {note}")


@release_cmd.command("verify")
@click.argument("rel", type=click.Path(file_okay=False))
@json_option("Print the verification report as JSON.")
def verify_cmd(rel, as_json) -> None:
    """Check every SHA-256 and size of REL's MANIFEST.json, the config row counts and the card metadata."""
    from release.verify import verify_release

    report = verify_release(rel)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    configs = ", ".join(f"{name} ({rows})" for name, rows in report["configs"].items())
    click.echo(f"OK: release {report['version']} at {rel}: {report['files']} files ({report['bytes']} bytes) match "
               f"MANIFEST.json; configs: {configs}")


def _rerun_command(rel, repo_id, private, revision, tag, endpoint) -> str:
    parts = ["bench", "push-to-hub", rel, "--repo-id", repo_id]
    if private:
        parts.append("--private")
    for flag, value in (("--revision", revision), ("--tag", tag), ("--endpoint", endpoint)):
        if value:
            parts += [flag, value]
    return " ".join(shlex.quote(str(p)) for p in parts)


@click.command("push-to-hub")
@click.argument("rel", type=click.Path(file_okay=False))
@click.option("--repo-id", required=True, metavar="ORG/NAME", help="Hub dataset repo (created if missing).")
@click.option("--private", is_flag=True, help="Create the repo private (an existing repo keeps its visibility).")
@click.option("--revision", default=None, metavar="BRANCH",
              help="Branch to commit to (default: main; created if missing).")
@click.option("--tag", default=None, metavar="vX.Y.Z", help="Tag of the commit (default: v<release version>).")
@click.option("--dry-run", is_flag=True, help="List the files (with sizes) and the card; upload nothing.")
@click.option("--endpoint", default=None, metavar="URL", help="Hub URL (default: $HF_ENDPOINT or huggingface.co).")
@click.option("--retries", type=click.IntRange(0, 20), default=5, show_default=True,
              help="Retries per step on network errors, 429 and 5xx.")
@click.option("--retry-wait", type=click.FloatRange(0, 600), default=2.0, show_default=True,
              help="First backoff wait in seconds (doubles each retry).")
@json_option("Print the plan or the result as JSON.")
def push_cmd(rel, repo_id, private, revision, tag, dry_run, endpoint, retries, retry_wait, as_json) -> None:
    """Push release folder REL to a Hub dataset repo in one commit and tag it.

    The token comes from HF_TOKEN or the login cache; it is never printed, logged or written.
    """
    from release.push import find_token, plan_push, push_release, render_plan

    if dry_run:
        plan = plan_push(rel, repo_id, revision=revision, tag=tag, private=private)
        found = bool(find_token())
        if as_json:
            click.echo(json.dumps({**plan.to_dict(), "token_found": found}, ensure_ascii=False))
        else:
            click.echo(render_plan(plan, found), nl=False)
        return
    result = push_release(rel, repo_id, private=private, revision=revision, tag=tag, endpoint=endpoint,
                          retries=retries, retry_wait=retry_wait, log=lambda msg: click.echo(msg, err=True),
                          rerun=_rerun_command(rel, repo_id, private, revision, tag, endpoint))
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    what = ("already up to date (no new commit)" if result.noop
            else f"committed {result.files} files ({result.bytes} bytes)")
    click.echo(f"{result.repo_id}@{result.revision}: {what} as {result.commit[:12]}, tagged {result.tag}"
               f"{' (repo created)' if result.created_repo else ''}\n{result.commit_url}")
    for note in result.notes:
        click.echo(f"note: {note}")


def register(cli: click.Group) -> None:
    """Attach ``release`` (with ``verify``) and ``push-to-hub`` to the main CLI."""
    cli.add_command(release_cmd)
    cli.add_command(push_cmd)
