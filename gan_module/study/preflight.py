"""Before any training: every value of every axis must compose into a config that ``main.py`` accepts.

A study of dozens of runs should not stop at run 40 on a misspelt key in one axis value's ``args``. Each value
is parsed once, inside the first candidate that uses it (``main.py fit ... --print_config``: parsing only, no
data, no networks), and a failure is one :class:`ConfigError` naming the axis value and the parser's complaint.
"""

from __future__ import annotations

import contextlib
import difflib
import io

import yaml

from gan_module.errors import ConfigError
from gan_module.metrics.registry import logged_names
from gan_module.study.runner import cli_args
from gan_module.study.spec import Candidate, Study
from gan_module.study.tune_spec import settings_of


def covering_candidates(study: Study) -> list[tuple[Candidate, list[tuple[str, str]]]]:
    """Few candidates that between them use every value of every axis (and, in a tuned study, every search
    space), each with the values it adds."""
    covered: set[tuple[str, str]] = set()
    spaces: set[str | None] = set()
    chosen = []
    for candidate in study.candidates():
        new = [value for value in candidate.values if value not in covered]
        new_space = study.tune is not None and candidate.space not in spaces
        if new or new_space:
            covered |= set(new)
            spaces.add(candidate.space)
            chosen.append((candidate, new or list(candidate.values)))
    return chosen


def _trial_settings(study: Study, candidate: Candidate) -> dict:
    """A tuning trial's settings at one point of the candidate's space: its keys must parse too."""
    if study.tune is None:
        return {}
    space = study.tune.space(candidate.space)
    return {**study.tune.args, **settings_of(space, {p.name: p.example() for p in space})}


def check_configs(study: Study) -> None:
    """Parse the composed config of enough candidates to try every axis value; raise on the first that fails,
    then on a ``rank_by``/``metrics`` name that a candidate's evaluation settings would not log."""
    from gan_module.cli import main  # Lightning's import cost only when a study actually runs

    evaluations = []
    for candidate, new in covering_candidates(study):
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main(
                    [
                        "fit",
                        *cli_args(study, candidate, study.seeds[0], settings=_trial_settings(study, candidate)),
                        "--print_config",
                    ]
                )
        except SystemExit as stop:
            if stop.code:
                suspects = ", ".join(f"axes.{axis}.{value}" for axis, value in new)
                if study.tune is not None:
                    suspects += f", tune.spaces.{candidate.space or study.tune.default_space}"
                raise ConfigError(
                    f"Study file {study.path}: candidate {candidate.name} does not compose into a valid main.py "
                    f"config; check {suspects} (or `base`, `args`): {_reason(err.getvalue())}"
                ) from None
        evaluations.append((candidate, yaml.safe_load(out.getvalue())["evaluation"]))
    for candidate, evaluation in evaluations:  # once every value parses: a parse error names the value first
        check_metric_names(study, candidate, evaluation)


def check_metric_names(study: Study, candidate: Candidate, evaluation: dict) -> None:
    """``rank_by`` and ``metrics`` must be names this candidate's evaluation settings log: a study ranking on a
    name that no run produces would rank every run as unscored, without an error."""
    produced = logged_names(
        evaluation["metrics"],
        num_samples=evaluation["num_samples"],
        feature=evaluation["feature"],
        real_split=evaluation["real_split"],
    )
    for name in study.metrics:  # the rank metric is among them
        if name not in produced:
            nearest = difflib.get_close_matches(name, produced, n=1, cutoff=0.0)
            raise ConfigError(
                f"Study file {study.path}: candidate {candidate.name} never logs {name} with its evaluation settings "
                f"(num_samples {evaluation['num_samples']}, feature {evaluation['feature']}, real_split "
                f"{evaluation['real_split']}); did you mean {nearest[0] if nearest else 'one of ' + str(produced)}?"
            )


def _reason(stderr: str) -> str:
    """The parser's own complaint: its ``error:`` line(s), without the usage text before them."""
    text = stderr.strip()
    start = text.rfind("error:")
    return " ".join(text[start + len("error:") :].split()) if start >= 0 else " ".join(text.split()[-40:])
