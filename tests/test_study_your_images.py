"""configs/studies/your_images.yaml on a real folder of images: the folder given with --set, each run's own
output in its run.log, one progress line per finished unit on the console, and answers.md leading with the pick."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gan_module.study import finished_results, load_study
from gan_module.study.__main__ import main as study_main
from gan_module.study.__main__ import settings_given

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "configs" / "studies" / "your_images.yaml"


@pytest.fixture(autouse=True)
def from_the_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


def tiny(tmp_path: Path) -> Path:
    """The shipped study cut to seconds: two candidates, each tuned twice (one trial, the own recipe) with one seed
    a tuning, a few iterations at 28x28, scored with the digits' classifier features instead of Inception (offline
    and fast on a CPU)."""
    spec = yaml.safe_load(SHIPPED.read_text())
    spec["axes"]["gan"] = {k: v for k, v in spec["axes"]["gan"].items() if k in ("ns", "lsgan")}
    spec |= {"seeds": [0, 1], "budget": {"iterations": 4}, "metrics": ["eval/classes_200_covered"]}
    spec["rank_by"] = {"metric": "eval/fid_classifier_200_test", "mode": "min"}
    spec["tune"] |= {"trials": 1, "metric": "eval/fid_classifier_200_val"}
    spec["tune"].pop("pruner")
    path = tmp_path / "your_images.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


SETTINGS = [
    "data.init_args.resolution=28",
    "data.init_args.labels=folders",
    "data.init_args.batch_size=16",
    "data.init_args.num_workers=0",
    "trainer.limit_train_batches=2",
    "evaluation.feature=classifier",
    "evaluation.num_samples=200",
    "evaluation.metrics=[fid, classes]",
    "evaluation.every_n_epochs=1",
    "sample_grid.num_samples=16",
]


def test_the_shipped_study_loads_and_takes_a_folder_on_the_command_line():
    study = load_study(SHIPPED)
    assert [c.name for c in study.candidates()] == ["ns", "lsgan", "ralsgan", "sngan", "wgan_gp"]
    assert study.tune.default_first and study.tune.args == {"evaluation.real_split": "val"}
    assert study.tune.replicates == 2 and study.tune.seeds_of(1) == [101]  # every comparison counts tuning luck
    assert settings_given(["data.init_args.root=my images", "evaluation.num_samples=2000", "x=[1, 2]"]) == {
        "data.init_args.root": "my images",
        "evaluation.num_samples": 2000,
        "x": [1, 2],
    }


@pytest.mark.slow
def test_a_tiny_study_on_a_png_folder_chooses_a_gan_with_quiet_runs(tmp_path, digit_png_folder, capfd):
    path, root = tiny(tmp_path), tmp_path / "runs"
    sets = [f"data.init_args.root={digit_png_folder}", *SETTINGS]
    study_main([str(path), "--runs-root", str(root), *(part for s in sets for part in ("--set", s))])
    out, err = capfd.readouterr()
    study = load_study(path, root)
    results = finished_results(study)
    assert sorted((r.candidate, r.tuning) for r in results) == [("lsgan", 0), ("lsgan", 1), ("ns", 0), ("ns", 1)]
    assert all(r.iterations == 4 for r in results)
    assert all(r.metrics["eval/fid_classifier_200_test"] > 0 for r in results)  # scored against the held-out PNGs
    for candidate in ("ns", "lsgan"):  # Lightning's own output went to the runs' logs, not the console
        assert "Test metric" in study.layout.run_log(candidate, 0).read_text()  # the test loop's table
        assert study.layout.trial_log(candidate, 0).is_file()
    progress = [line for line in out.splitlines() if line.startswith("[your_images]")]
    assert progress[-1].startswith("[your_images] 8/8 done") and "leader " in progress[-1]  # 4 trials + 4 runs
    assert len(out.splitlines()) < 40 and "Run folder" not in out and "LightningCLI" not in err
    answers = (root / "your_images" / "answers.md").read_text()
    assert any(name in answers.split("\n\n", 2)[1] for name in ("ns", "lsgan"))  # the pick leads
