"""Entry point: ``python main.py fit --config configs/quickstart.yaml`` (see README.md).

Importing Lightning takes seconds (it imports torch, torchmetrics and torchvision), so the config files named
on the command line are checked first: a missing file or a YAML syntax error is reported at once, in one line.
"""

import itertools
import os
import sys
from pathlib import Path


def only_prints(argv: list[str]) -> bool:
    """LightningCLI's help or config printing: no training, so no threads to choose and no load to measure."""
    return any(a.split("=", 1)[0] in ("-h", "--help", "--print_config") for a in argv)


def check_config_files(argv: list[str]) -> str | None:
    """The first problem with a ``--config FILE`` (or ``--config=FILE``) argument, or ``None``: a missing file,
    bytes that are not UTF-8, a YAML syntax error (a tab as indentation: its line), a key written twice."""
    from gan_module.errors import ConfigError  # light: PyYAML only, no torch behind them
    from gan_module.run.yaml_files import load_yaml_strict

    files = [b for a, b in itertools.pairwise(argv) if a == "--config"]
    files += [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
    for name in files:
        path = Path(name)
        if not path.is_file():
            # jsonargparse also takes an inline YAML string here; only a file name can be missing
            if path.suffix in (".yaml", ".yml", ".json"):
                return f"--config {name}: no such file."
            continue
        try:
            content = load_yaml_strict(path, label=f"--config {name}")
        except ConfigError as err:
            return str(err)
        if not isinstance(content, dict):
            return f"--config {name} holds no settings (a YAML mapping such as `trainer: {{max_epochs: 5}}`)."
    return None


if __name__ == "__main__":
    from gan_module.run import openmp  # light: no torch behind it (importing torch fixes the wait policy)

    counters = openmp.cpu_counters()  # the machine's load is measured while the config files are checked
    problem = check_config_files(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    if not only_prints(sys.argv[1:]):  # the policy must be set before torch loads: libgomp reads it once
        openmp.busy_at_start = openmp.busy_cores(since=counters)
    openmp.chosen = openmp.choose_wait_policy(os.environ, openmp.busy_at_start)
    from gan_module.cli import main

    main()
