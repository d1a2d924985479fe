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
from gan_module.samplers import label_of
from gan_module.study.runner import cli_args
from gan_module.study.spec import Candidate, Study
from gan_module.study.tune_spec import settings_of


def covering_candidates(study: Study) -> list[tuple[Candidate, list[tuple[str, str]]]]:
    """Few candidates that between them use every value of every axis, each with the values it adds."""
    covered: set[tuple[str, str]] = set()
    chosen = []
    for candidate in study.candidates():
        new = [value for value in candidate.values if value not in covered]
        if new:
            covered |= set(new)
            chosen.append((candidate, new))
    return chosen


def _parsed_evaluation(study: Study, candidate: Candidate, settings: dict, suspects: str) -> dict:
    """``main.py fit ... --print_config`` of one candidate (parsing only): its evaluation settings, or one
    ConfigError naming ``suspects`` and the parser's complaint."""
    from gan_module.cli import main  # Lightning's import cost only when a study actually runs

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(["fit", *cli_args(study, candidate, study.seeds[0], settings=settings), "--print_config"])
    except SystemExit as stop:
        if stop.code:
            raise ConfigError(
                f"Study file {study.path}: candidate {candidate.name} does not compose into a valid main.py "
                f"config; check {suspects}: {_reason(err.getvalue())}"
            ) from None
    printed = yaml.safe_load(out.getvalue())
    sampler = (printed.get("model") or {}).get("sampler") or {}
    # the name part of a discriminator-guided sampler's metrics (gan_module/samplers/): its names are logged too
    return {
        **printed["evaluation"],
        "sampler": label_of(sampler.get("class_path") if isinstance(sampler, dict) else None),
    }


def check_configs(study: Study) -> None:
    """Parse the composed config of enough candidates to try every axis value (and, in a tuned study, a trial in
    every search space); raise on the first that fails, then on a ``rank_by``/``metrics`` name (or the trials'
    ``tune.metric``) that a candidate's evaluation settings would not log."""
    evaluations = []
    for candidate, new in covering_candidates(study):
        suspects = ", ".join(f"axes.{axis}.{value}" for axis, value in new) + " (or `base`, `args`)"
        evaluations.append((candidate, _parsed_evaluation(study, candidate, {}, suspects)))
    trials = []
    if study.tune is not None:
        tune, seen = study.tune, set()
        for candidate in study.candidates():
            name = candidate.space or tune.default_space
            if name in seen:
                continue
            seen.add(name)
            space = tune.space(candidate.space)
            settings = {**tune.args, **settings_of(space, {p.name: p.example() for p in space})}
            suspects = f"tune.spaces.{name}, tune.common or tune.args"
            trials.append((candidate, _parsed_evaluation(study, candidate, settings, suspects)))
    for candidate, evaluation in evaluations:  # once every value parses: a parse error names the value first
        check_metric_names(study, candidate, evaluation, study.metrics)
    for candidate, evaluation in trials:
        check_metric_names(study, candidate, evaluation, [study.trial_metric], "tune.metric")


def check_metric_names(
    study: Study, candidate: Candidate, evaluation: dict, names: list[str], key: str = "rank_by/metrics"
) -> None:
    """``rank_by`` and ``metrics`` must be names this candidate's evaluation settings log: a study ranking on a
    name that no run produces would rank every run as unscored, without an error."""
    produced = logged_names(
        evaluation["metrics"],
        num_samples=evaluation["num_samples"],
        feature=evaluation["feature"],
        real_split=evaluation["real_split"],
        sampler=evaluation.get("sampler"),
    )
    for name in names:
        if name not in produced:
            nearest = difflib.get_close_matches(name, produced, n=1, cutoff=0.0)
            raise ConfigError(
                f"Study file {study.path} ({key}): candidate {candidate.name} never logs {name} with its evaluation "
                "settings "
                f"(num_samples {evaluation['num_samples']}, feature {evaluation['feature']}, real_split "
                f"{evaluation['real_split']}, sampler {evaluation.get('sampler') or 'plain'}); did you mean "
                f"{nearest[0] if nearest else 'one of ' + str(produced)}?"
            )


def _reason(stderr: str) -> str:
    """The parser's own complaint: its ``error:`` line(s), without the usage text before them."""
    text = stderr.strip()
    start = text.rfind("error:")
    return " ".join(text[start + len("error:") :].split()) if start >= 0 else " ".join(text.split()[-40:])
