"""``python -m gan_module.study STUDY.yaml [--jobs N | --index I | --candidate C --seed S | --list | --report]
[--across OTHER.yaml ...]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from gan_module.errors import ConfigError, RunFailedError
from gan_module.run.faults import describe_fault, os_fault_behind
from gan_module.study import finished_results, load_study, report
from gan_module.study.across import write_across
from gan_module.study.console import ProgressDisplay, note, output_to, study_status
from gan_module.study.criteria import NOTHING_COMPARED, context_axes
from gan_module.study.power import MIN_SEEDS, few_seeds_note
from gan_module.study.preflight import check_configs
from gan_module.study.runner import run_indices, run_parallel
from gan_module.study.sweep import sweep_yaml
from gan_module.study.timing import read_timing, time_study
from gan_module.study.tuning import ensure_tuned


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gan_module.study", description="Train a grid of candidate GANs and rank them."
    )
    parser.add_argument("study", help="the study file, e.g. configs/studies/mixtures.yaml")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes running runs in parallel")
    parser.add_argument("--index", type=int, help="run only run I of --list (a SLURM array task)")
    parser.add_argument("--candidate", help="run only this candidate (with --seed; what a W&B sweep agent calls)")
    parser.add_argument("--seed", type=int, help="the seed of --candidate")
    parser.add_argument("--shard", help=argparse.SUPPRESS)  # k/N: worker k of --jobs N
    parser.add_argument("--list", action="store_true", help="print the numbered runs and exit")
    parser.add_argument("--report", action="store_true", help="only write the leaderboard, plots and answers")
    parser.add_argument("--no-report", action="store_true", help="do not write them after running")
    parser.add_argument("--wandb-sweep", action="store_true", help="print the W&B sweep YAML of this study")
    parser.add_argument("--runs-root", help="folder of all studies (default: runs/studies)")
    parser.add_argument(
        "--storage",
        help="Optuna storage of the tuning (default: sqlite:///<runs root>/<study>/optuna.db; a PostgreSQL URL when "
        "several machines share the study)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a main.py setting for every run, after the file's own (e.g. --set data.init_args.root=my_images)",
    )
    parser.add_argument(
        "--across",
        nargs="+",
        metavar="OTHER",
        help="also write the claims report of this study and these read together, each a dataset (claim 3)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    try:
        study = load_study(args.study, args.runs_root)
        study.args.update(settings_given(args.set))
        runs = study.runs()
        if args.list:
            for i, (candidate, seed) in enumerate(runs):
                print(f"{i}\t{candidate.name}\tseed {seed}")
            return
        if args.wandb_sweep:
            print(sweep_yaml(study), end="")
            return
        if args.index is not None:
            if not 0 <= args.index < len(runs):
                raise ConfigError(f"--index {args.index}: the study has runs 0..{len(runs) - 1} (see --list).")
            ensure_tuned(study, [runs[args.index][0]], args.storage)
            run_indices(study, [args.index])
        elif args.candidate is not None:
            if args.seed not in study.seeds:
                raise ConfigError(f"--candidate needs --seed, one of the study's seeds {study.seeds}.")
            ensure_tuned(study, [study.candidate(args.candidate)], args.storage)
            run_indices(study, [runs.index((study.candidate(args.candidate), args.seed))])
        elif args.shard is not None:
            k, n = (int(x) for x in args.shard.split("/"))
            ensure_tuned(study, study.candidates(), args.storage)  # every worker takes part in every tuning
            run_indices(study, list(range(k, len(runs), n)))
        elif not args.report:
            if args.jobs < 1:
                raise ConfigError(f"--jobs must be at least 1, got {args.jobs}.")
            if len(finished_results(study)) < len(runs):
                check_configs(study)  # a typo in one axis value fails now, not after hours of other runs
            if len(study.seeds) < MIN_SEEDS:  # said before hours of runs, not only in the report after them
                print(few_seeds_note(len(study.seeds)))
            if len(study.candidates()) > 1 and set(context_axes(study)) == set(study.axes):
                print(NOTHING_COMPARED)
            with ProgressDisplay(study.name, study_status(study, args.storage), study.layout.log("study")):
                if args.jobs > 1:
                    run_parallel(study, args.jobs, args.runs_root, args.storage, args.set)
                else:
                    ensure_tuned(study, study.candidates(), args.storage)
                    run_indices(study, list(range(len(runs))))
            time_cost(study, complete=len(finished_results(study)) == len(runs))
        single = args.index is not None or args.candidate is not None or args.shard is not None
        if args.report or not (single or args.no_report):
            for name, path in report(study, args.storage).items():
                if path is not None:
                    print(f"{name}: {path}")
            if args.across:
                others = [load_study(path, args.runs_root) for path in args.across]
                print(f"claims across the studies: {write_across([study, *others])}")
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except RunFailedError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except Exception as err:
        fault = os_fault_behind(err)  # a full disk, a runs root that is a file, a read-only folder
        if fault is None:
            raise
        print(
            f"error: {describe_fault(fault)}: the study stopped; fix it and run the same command to resume.",
            file=sys.stderr,
        )
        sys.exit(1)


def time_cost(study, complete: bool) -> None:
    """The study's ``timing``, once every run is done: each candidate's cost timed alone (timing.py), its fits'
    output in ``logs/timing.log``. Done once: delete ``timing.json`` to time again."""
    if study.timing is None or not complete or read_timing(study) is not None:
        return
    log = study.layout.log("timing")
    note(f"timing every candidate alone, {study.timing.rounds} rounds of {study.timing.iterations} iterations ({log})")
    try:
        with output_to(log):
            path = time_study(study, study.timing.iterations, study.timing.rounds, study.timing.warmup)
    except RunFailedError as err:  # the runs are done and kept: only the timing is to do again
        raise RunFailedError(
            f"{err} (its output: {log}); the runs are kept: fix it and run the same command to time the cost again"
        ) from err
    note(f"cost timed alone: {path}")


def settings_given(pairs: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` options as main.py settings (VALUE read as YAML: numbers, lists, true/false)."""
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair}: give KEY=VALUE, e.g. --set data.init_args.root=my_images.")
        found[key.removeprefix("--")] = yaml.safe_load(value) if value else ""
    return found


if __name__ == "__main__":
    main()
