"""CLI wiring of the baselines stage: `baselines` (run, export, judge, train-dpo, make-preferences),
`errors`, `results` and `leaderboard`."""
from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Attach this stage's commands to the main CLI."""
    from baselines.dpo.cli import make_preferences_cmd, train_dpo_cmd
    from baselines.errors.cli import errors
    from baselines.judging.cli import judge_cmd
    from baselines.leaderboard.cli import leaderboard
    from baselines.judging.results_cli import results
    from baselines.generation.cli import baselines

    baselines.add_command(judge_cmd)
    baselines.add_command(train_dpo_cmd)
    baselines.add_command(make_preferences_cmd)
    for group in (baselines, errors, results, leaderboard):
        cli.add_command(group)
