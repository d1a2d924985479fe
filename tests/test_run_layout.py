"""gan_module/run/layout.py: one run folder's paths, written down once, agree with what Lightning writes."""

import inspect
from pathlib import Path

from lightning.fabric.loggers.csv_logs import _ExperimentWriter
from lightning.pytorch.cli import SaveConfigCallback

from gan_module.run.layout import RunLayout, versions


def test_the_layout_names_the_files_lightning_writes():
    run = RunLayout(Path("runs/x/version_3"))
    assert run.metrics.name == _ExperimentWriter.NAME_METRICS_FILE
    assert run.config.name == inspect.signature(SaveConfigCallback).parameters["config_filename"].default
    assert run.last_checkpoint == Path("runs/x/version_3/checkpoints/last.ckpt")
    assert run.image("samples", 42) == Path("runs/x/version_3/images/samples/iter_00000042.png")
    assert run.evaluation("test").metrics == Path("runs/x/version_3/test/metrics.csv")
    assert run.number == 3 and RunLayout(Path("runs/x/test")).number is None


def test_versions_lists_run_folders_by_number(tmp_path):
    for name in ("version_10", "version_2", "version_x", "other"):
        (tmp_path / name).mkdir()
    (tmp_path / "version_5").write_text("a file, not a run")
    assert [run.root.name for run in versions(tmp_path)] == ["version_2", "version_10"]
    assert RunLayout.numbered(tmp_path, 7).root == tmp_path / "version_7"
    assert versions(tmp_path / "absent") == []
