"""The ``bench`` console script. Subcommands come from the stage packages."""
from __future__ import annotations

import os
import sys
import traceback

import click

from bench import __version__
from bench.errors import BenchError
from bench.workspace import Workspace


class BenchContext:
    """Shared CLI state: the workspace (store opened lazily) and flags."""

    def __init__(self, workspace: str | None, debug: bool):
        self.workspace = Workspace(workspace)
        self.debug = debug


pass_ctx = click.make_pass_decorator(BenchContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bench")
@click.option("--workspace", envvar="BENCH_WORKSPACE", default=None, metavar="DIR",
              help="Workspace folder (store + caches). Env BENCH_WORKSPACE; default ./bench-workspace.")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None, debug: bool) -> None:
    """bench: the multilingual Just-Eval-Instruct benchmark and its baselines."""
    ctx.obj = BenchContext(workspace, debug)
    ctx.call_on_close(ctx.obj.workspace.close)


def _register() -> None:
    from baselines.cli import register as register_baselines
    from benchmark.cli import register as register_benchmark

    register_benchmark(cli)
    register_baselines(cli)
    __import__("annotation.cli", fromlist=["register"]).register(cli)  # bench annotate
    __import__("release.cli", fromlist=["register"]).register(cli)  # bench release, push-to-hub


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one line, tracebacks only with --debug."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("BENCH_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="bench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BenchError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("Interrupted: finished work is saved; rerun the same command to resume.", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last-resort one-line report
        if debug:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"error: {type(exc).__name__}: {first} (rerun with --debug for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
