"""The fault matrix: kill -9 at random moments (during saves too, with $TMPDIR on another filesystem),
concurrent starts, and bad input. Signals and NaNs are in test_preemption.py and test_cli.py, resuming from
each kind of checkpoint in test_resume.py."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import pytest
import torch

from gan_module import cli
from gan_module.checkpoint_io import partial_files
from gan_module.run.folder import default_runs_root
from tests.conftest import CONFIGS
from tests.test_cli import QUICKSTART
from tests.test_preemption import RUN, assert_same_training_state, checkpoint, fit

ROOT = CONFIGS.parent
#: the quickstart's full-size networks (a 24 MB checkpoint, so a kill often lands inside a save), a save after
#: every iteration, 12 epochs of 6 batches (a few seconds of training)
KILLABLE = [a for a in RUN if "hidden_dims" not in a] + [
    "--last_checkpoint.every_minutes=1e-9",
    "--trainer.max_epochs=12",
]


def main_py(root: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    command = [
        sys.executable,
        "main.py",
        "fit",
        "--config",
        QUICKSTART,
        *KILLABLE,
        f"--trainer.default_root_dir={root}",
    ]
    return subprocess.Popen(
        [*command, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def kill_after_first_save(process: subprocess.Popen, last: Path, rng: random.Random) -> bool:
    """SIGKILL the run a random 0-500 ms after ``last.ckpt`` changed; False if it finished first."""
    before = last.stat().st_mtime_ns if last.exists() else None
    while process.poll() is None and (not last.exists() or last.stat().st_mtime_ns == before):
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.5))
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_that_was_saved(tmp_path):
    elsewhere = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path / "tmp"
    scratch = elsewhere / f"gan-fault-test-{os.getpid()}"
    scratch.mkdir(parents=True)
    env = {**os.environ, "TMPDIR": str(scratch)}  # another filesystem than the run, as node-local /tmp is
    straight = main_py(tmp_path / "straight", env=env)
    assert straight.wait() == 0, straight.stderr.read()
    last = tmp_path / "killed" / "version_0" / "checkpoints" / "last.ckpt"
    rng, kills = random.Random(0), 0
    process = main_py(tmp_path / "killed", env=env)
    for _ in range(3):
        if not kill_after_first_save(process, last, rng):
            break
        kills += 1
        saved = torch.load(last, weights_only=True)  # whole and readable whenever the kill came
        assert 0 < saved["gan_progress"]["d_steps"] <= 72
        process = main_py(tmp_path / "killed", "--ckpt_path=last", env=env)
    assert process.wait() == 0, process.stderr.read()
    assert kills >= 2
    assert_same_training_state(checkpoint(tmp_path / "straight"), checkpoint(tmp_path / "killed"))
    assert checkpoint(tmp_path / "straight")["loops"] == checkpoint(tmp_path / "killed")["loops"]
    assert partial_files(last.parent) == []  # temporaries of the killed saves were cleaned up
    assert list(scratch.iterdir()) == []  # and nothing leaked into $TMPDIR
    scratch.rmdir()


@pytest.mark.slow
def test_two_runs_started_at_once_get_their_own_folders(tmp_path):
    runs = [main_py(tmp_path, "--trainer.max_steps=4") for _ in range(2)]
    assert [run.wait() for run in runs] == [0, 0]
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["version_0", "version_1"]
    for name in folders:
        rows = (tmp_path / name / "metrics.csv").read_text().splitlines()
        assert len(rows) == len(set(rows))  # not two runs' rows interleaved in one file
        assert torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4


def test_a_folder_made_by_another_run_after_the_scan_is_skipped(tmp_path, monkeypatch):
    from gan_module.run import layout as run_layout

    monkeypatch.setattr(run_layout, "versions", lambda root: [])  # as if version_0 appeared after the listing
    (tmp_path / "version_0").mkdir()
    assert run_layout.claim_run(tmp_path).root == tmp_path / "version_1"
    assert run_layout.claim_run(tmp_path).root == tmp_path / "version_2"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--data.init_args.batch_size=0"], "error: data.batch_size must be >= 1, got 0."),
        (["--data.init_args.value_range=[1,0]"], "error: data.value_range must be [low, high] with low < high"),
        (
            ["--model.loss=gan_module.losses.FGANLoss", "--model.loss.init_args.divergence=nope"],
            "error: Unknown f-GAN divergence 'nope'",
        ),
        (
            [
                '--model.regularizers=[{"class_path": "gan_module.regularizers.GradientPenalty", '
                '"init_args": {"weight": -1}}]'
            ],
            "error: GradientPenalty: weight must be >= 0",
        ),
        (["--trainer.max_epochs=abc"], 'error: Parser key "trainer.max_epochs"'),
        (["--no_such_option=1"], "error: unrecognized arguments: --no_such_option=1"),
        (["--trainer.max_steps=-5"], "error: trainer.max_steps=-5: give -1 (no limit) or a number of steps >= 0."),
        (["--trainer.max_steps=0"], "error: trainer.max_steps=0 / max_epochs=0 would train nothing"),
        (
            ["--model.generator_optimizer.init_args.lr=-1"],
            "error: a setting was rejected while building the run (ValueError: Invalid learning rate: -1.0).",
        ),
        (
            ["--checkpoint.every_n_train_steps=2"],
            "error: a setting was rejected while building the run (MisconfigurationException: Combination of "
            "parameters every_n_train_steps=2, every_n_epochs=20",
        ),
        (
            ["--config", "configs/networks/dcgan.yaml", "--model.generator.init_args.base_channels=0"],
            'error: Parser key "model.generator"',
        ),
    ],
)
def test_bad_input_is_one_error_line_exit_2_and_leaves_no_run_folder(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["fit", "--config", QUICKSTART, f"--trainer.default_root_dir={tmp_path}", *flags])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.splitlines()
    errors = [line for line in err if "error" in line.lower() and "args parameter is intended" not in line]
    assert len(errors) == 1 and errors[0].startswith(message), err
    assert not any("Traceback" in line or "usage:" in line for line in err)
    assert not any(tmp_path.glob("version_*"))


def test_resuming_a_run_with_the_config_of_another_model_leaves_that_run_untouched(tmp_path, capsys):
    mixtures = str(CONFIGS / "mixtures" / "base.yaml")
    cli.main(["fit", "--config", mixtures, f"--trainer.default_root_dir={tmp_path}", "--budget.max_iterations=2"])
    run = tmp_path / "version_0"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as stopped:
        cli.main(["fit", "--config", QUICKSTART, f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}"])
    assert stopped.value.code == 2
    assert "holds another model than this config" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_test_without_a_checkpoint_refuses_to_score_an_untrained_generator(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["test", "--config", QUICKSTART, f"--trainer.default_root_dir={tmp_path}"])
    assert stopped.value.code == 2
    assert "test needs --ckpt_path" in capsys.readouterr().err


def test_an_empty_checkpoint_says_so_and_names_the_others_beside_it(tmp_path, capsys):
    folder = tmp_path / "version_0" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "last.ckpt").write_bytes(b"")
    torch.save({"state_dict": {}}, folder / "epoch0019.ckpt")
    with pytest.raises(SystemExit):
        cli.main(["fit", "--config", QUICKSTART, f"--trainer.default_root_dir={tmp_path}", "--ckpt_path=last"])
    err = capsys.readouterr().err
    assert "is empty (0 bytes: a save was cut off)" in err
    assert str(folder / "epoch0019.ckpt") in err


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a list\n"])
def test_a_config_file_without_settings_is_named(tmp_path, text):
    import main

    empty = tmp_path / "override.yaml"
    empty.write_text(text)
    problem = main.check_config_files(["fit", "--config", QUICKSTART, "--config", str(empty)])
    assert problem is not None and str(empty) in problem and "holds no settings" in problem


def test_runs_with_any_logger_share_the_config_s_run_folder():
    configs = [CONFIGS / "quickstart.yaml", CONFIGS / "logger" / "wandb.yaml"]
    assert default_runs_root([str(c) for c in configs]) == Path("runs/quickstart")
    composed = [str(CONFIGS / "mnist/base.yaml"), str(CONFIGS / "losses/wgan_gp.yaml")]
    assert default_runs_root(composed) == Path("runs/mnist/wgan_gp")


def test_inception_features_without_weights_offline_fail_before_the_test_loop(tmp_path, capsys, monkeypatch):
    import urllib.error

    import torchmetrics.image

    from gan_module.model.module import GAN
    from tests.test_cli import SMALL

    cli.main(
        ["fit", "--config", QUICKSTART, *SMALL, "--trainer.max_epochs=1", f"--trainer.default_root_dir={tmp_path}"]
    )

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    steps: list[int] = []
    monkeypatch.setattr(torchmetrics.image, "FrechetInceptionDistance", offline)
    monkeypatch.setattr(GAN, "test_step", lambda self, batch, batch_idx: steps.append(batch_idx))
    last = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    inception = [
        "--evaluation.feature=inception",
        "--evaluation.metrics=[fid]",
        "--evaluation.inception_weights=download",
    ]
    with pytest.raises(SystemExit) as stopped:
        cli.main(["test", "--config", QUICKSTART, *SMALL, *inception, f"--ckpt_path={last}"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "evaluation.inception_weights" in err and "Temporary failure" in err
    assert steps == []  # no test batch was run before the error


def test_a_run_that_fails_before_saving_or_logging_anything_leaves_no_folder(tmp_path, capsys):
    from tests.test_cli import SMALL

    exploding = ["--model.loss=tests.test_cli.ExplodingLoss", "--model.loss.after=1", "--trainer.log_every_n_steps=50"]
    with pytest.raises(SystemExit) as stopped:
        cli.main(["fit", "--config", QUICKSTART, *SMALL, f"--trainer.default_root_dir={tmp_path}", *exploding])
    assert stopped.value.code == 1  # diverged at the first D step
    assert "error: The discriminator's loss (nan)" in capsys.readouterr().err
    assert not any(tmp_path.glob("version_*"))


class RunsCommand:
    """What a malicious checkpoint holds: unpickling it runs a shell command (here: one that creates ``marker``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import shlex

        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def malicious_checkpoint(path: Path, marker: Path, form: str) -> Path:
    """A file that runs a command when loaded without ``weights_only``: a Lightning checkpoint with one entry more
    (``torch.save``), or a bare pickle of the command (``pickle``)."""
    import pickle

    path.parent.mkdir(parents=True, exist_ok=True)
    if form == "torch.save":
        torch.save({"state_dict": {}, "hyper_parameters": {}, "callbacks": RunsCommand(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(RunsCommand(marker), protocol=2))
    return path


@pytest.mark.parametrize("form", ["torch.save", "pickle"])
def test_the_malicious_checkpoints_run_their_command_when_loaded_without_weights_only(tmp_path, form):
    """The payload is live (so the tests below show that it is not run, not that it could not be)."""
    import contextlib

    marker = tmp_path / "ran"
    evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker, form)
    with contextlib.suppress(RuntimeError):  # the bare pickle runs its command, then fails torch's magic number
        torch.load(evil, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("form", ["torch.save", "pickle"])
@pytest.mark.parametrize("subcommand", ["fit", "test", "predict"])
def test_a_checkpoint_that_would_run_code_is_refused_in_one_line_and_runs_nothing(tmp_path, capsys, subcommand, form):
    marker = tmp_path / "ran"
    evil = malicious_checkpoint(tmp_path / "version_0" / "checkpoints" / "last.ckpt", marker, form)
    before = sorted(tmp_path.rglob("*"))
    ckpt = "last" if subcommand == "fit" else str(evil)  # fit finds it as the newest run's last.ckpt
    with pytest.raises(SystemExit) as stopped:
        cli.main([subcommand, "--config", QUICKSTART, f"--trainer.default_root_dir={tmp_path}", f"--ckpt_path={ckpt}"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower() and "args parameter is intended" not in line]
    assert errors == [
        f"error: --ckpt_path {evil} holds objects this project never writes (it asks for {os.system.__module__}.system)"
        ": refused for safety, nothing in it was run. Use a checkpoint this project wrote."
    ]
    assert "weights_only" not in err and "likely succeed" not in err and "Traceback" not in err
    assert not marker.exists()  # the command was never run
    assert sorted(tmp_path.rglob("*")) == before  # nothing written: no run, test or predict folder


def test_a_truncated_checkpoint_is_still_called_truncated_or_corrupt(tmp_path, capsys):
    folder = tmp_path / "version_0" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, folder / "epoch0019.ckpt")
    whole = (folder / "epoch0019.ckpt").read_bytes()
    (folder / "last.ckpt").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SystemExit) as stopped:
        cli.main(["fit", "--config", QUICKSTART, f"--trainer.default_root_dir={tmp_path}", "--ckpt_path=last"])
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: --ckpt_path {folder / 'last.ckpt'} is not a readable checkpoint (truncated or")
    assert errors[0].endswith(f"Resume from another checkpoint of the run: {folder / 'epoch0019.ckpt'}.")


def test_the_study_reading_a_malicious_last_ckpt_runs_nothing(tmp_path):
    """collect() reads a finished run's last.ckpt as the CLI does (weights_only=True): refused in one line, nothing
    in it run."""
    from types import SimpleNamespace

    from gan_module.errors import ConfigError
    from gan_module.run.layout import RunLayout
    from gan_module.study.runner import collect

    marker = tmp_path / "ran"
    run = RunLayout(tmp_path / "version_0")
    malicious_checkpoint(run.last_checkpoint, marker, "torch.save")
    study, candidate = (
        SimpleNamespace(rank_metric="eval/fid_classifier_2k_test"),
        SimpleNamespace(name="x", values=(), decision=()),
    )
    with pytest.raises(ConfigError, match="refused for safety, nothing in it was run"):  # read as the CLI reads it
        collect(run, study, candidate, 0, "done")
    assert not marker.exists()


def test_a_malicious_classifier_cache_file_runs_nothing(tmp_path):
    """The metrics' cached dataset classifier is the other file the project loads (weights_only=True)."""
    import pickle

    from gan_module.metrics.features import dataset_classifier, dataset_key
    from tests.conftest import offline_digits

    digits = offline_digits()
    digits.setup()
    marker = tmp_path / "ran"
    malicious_checkpoint(tmp_path / "cache" / f"{dataset_key(digits)}.pt", marker, "torch.save")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        dataset_classifier(digits, tmp_path / "cache")
    assert not marker.exists()


def test_a_second_writer_into_a_live_run_is_refused_in_one_line_before_touching_it(tmp_path, capsys):
    """`fit --ckpt_path last` into a run another fit still trains: the run folder's OS lock names the holder;
    nothing of the run changes. The lock goes with its holder: once released, the same command resumes."""
    from gan_module.run.locks import lock_folder

    fit(tmp_path)
    first = checkpoint(tmp_path)["epoch"]
    run = tmp_path / "version_0"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    holder = lock_folder(run)  # as the live fit would hold it
    try:
        with pytest.raises(SystemExit) as stopped:
            cli.main(
                ["fit", "--config", QUICKSTART, *RUN, f"--trainer.default_root_dir={tmp_path}", "--ckpt_path=last"]
            )
        assert stopped.value.code == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert errors == [
            f"error: {run} is being written by process {os.getpid()}: two writers would interleave its logs and "
            "checkpoints. Wait for that process to end (or stop it), then run the same command again."
        ]
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"} == before
    finally:
        holder.close()
    fit(tmp_path, "--ckpt_path=last", "--trainer.max_epochs=3")  # free again: resumes
    assert checkpoint(tmp_path)["epoch"] == first + 1


def test_a_full_disk_during_a_save_is_one_line_naming_the_last_good_checkpoint_which_resumes(
    tmp_path, capsys, monkeypatch
):
    import errno

    from gan_module import checkpoint_io

    real, calls = checkpoint_io.write_atomically, []

    def second_save_fails(target, write):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(target, write)

    monkeypatch.setattr(checkpoint_io, "write_atomically", second_save_fails)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["fit", "--config", QUICKSTART, *RUN, f"--trainer.default_root_dir={tmp_path}"])
    assert stopped.value.code == 1
    last = tmp_path / "version_0" / "checkpoints" / "last.ckpt"
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert errors == [
        f"error: No space left on device ({last}): the command stopped. The last good checkpoint is {last}: fix the "
        "cause, then run the same command with --ckpt_path last."
    ]
    assert checkpoint(tmp_path)["gan_progress"]["d_steps"] == 6  # the epoch-0 save, intact
    monkeypatch.setattr(checkpoint_io, "write_atomically", real)
    fit(tmp_path, "--ckpt_path=last")  # the disk has room again: the run resumes and finishes
    assert checkpoint(tmp_path)["gan_progress"]["d_steps"] == 12


def test_a_run_folder_under_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["fit", "--config", QUICKSTART, *RUN, f"--trainer.default_root_dir={blocker}/runs"])
    assert stopped.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert errors == [f"error: Not a directory ({blocker}/runs): the command stopped."]


def test_a_sigterm_while_the_run_starts_leaves_no_folder(tmp_path, capsys, monkeypatch):
    """After the run folder is claimed and before training starts (networks, data, checks): exit 143, no folder."""
    real = cli.GANCLI.instantiate_classes

    def signalled(self) -> None:
        assert any(tmp_path.glob("version_*"))  # the folder is claimed by now
        os.kill(os.getpid(), signal.SIGTERM)
        real(self)

    monkeypatch.setattr(cli.GANCLI, "instantiate_classes", signalled)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["fit", "--config", QUICKSTART, *RUN, f"--trainer.default_root_dir={tmp_path}"])
    assert stopped.value.code == 143
    assert "SIGTERM before training started" in capsys.readouterr().out
    assert not any(tmp_path.glob("version_*"))
    assert signal.getsignal(signal.SIGTERM) == before  # the command's handler is given back


# ------------------------------------------------------------------ the machine's faults, real ones (CI runs as root)
#: a fit that saves last.ckpt after every epoch: the quickstart's full networks (a 24 MB checkpoint, so a 40 MB disk
#: takes the first and refuses the second), 3 batches an epoch
FILLING = ["--trainer.limit_train_batches=3", "--trainer.max_epochs=12", "--trainer.enable_progress_bar=false"]


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A real 40 MB filesystem (tmpfs), unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs failed: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        unmount(folder)


@pytest.fixture
def bind_point(tmp_path) -> Iterator[Path]:
    """A folder that :func:`make_read_only` can turn read-only under a running process (a bind mount over it)."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root (CI runs as root)")
    folder = tmp_path / "bound"
    folder.mkdir()
    yield folder
    unmount(folder)


def unmount(folder: Path) -> None:
    while subprocess.run(["mountpoint", "-q", str(folder)]).returncode == 0:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=True)  # still busy: detach it now


def make_read_only(folder: Path) -> None:
    """A read-only bind mount over ``folder`` (``mount -o remount,ro`` of a filesystem with open files fails)."""
    try:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True, capture_output=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
    except subprocess.CalledProcessError as err:
        pytest.skip(f"a read-only bind mount failed: {err.stderr.decode().strip()}")


def fill(disk: Path, leave: int = 0) -> None:
    """Write a ballast file so that ``leave`` bytes stay free on ``disk``."""
    stats = os.statvfs(disk)
    (disk / "ballast").write_bytes(bytes(stats.f_bavail * stats.f_frsize - leave))


def main_py_command(*args: str) -> subprocess.Popen:
    """``python main.py ARGS`` as a user runs it, stderr captured whole."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "main.py", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def ended(process: subprocess.Popen, timeout: float = 300) -> tuple[int, list[str]]:
    """The exit code and the stderr lines of a command; the error lines of this project start ``error:``."""
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err.decode().splitlines()


def one_error_line(stderr: list[str]) -> str:
    assert not any("Traceback" in line for line in stderr), "\n".join(stderr)
    errors = [line for line in stderr if line.startswith("error:")]
    assert len(errors) == 1, "\n".join(stderr)
    assert stderr[-1] == errors[0]  # and nothing after it
    return errors[0]


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, ended(process)
        assert time.monotonic() < deadline, f"no {path} after {seconds} s"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_real_full_disk_during_fit_is_one_line_and_the_last_checkpoint_loads(small_disk):
    """torch's zip writer raises a RuntimeError while it handles the ENOSPC: still one line, naming the file."""
    code, stderr = ended(
        main_py_command("fit", "--config", QUICKSTART, *FILLING, f"--trainer.default_root_dir={small_disk}")
    )
    last = small_disk / "version_0" / "checkpoints" / "last.ckpt"
    assert code == 1
    assert one_error_line(stderr) == (
        f"error: No space left on device ({last}): the command stopped. The last good checkpoint is {last}: fix the "
        "cause, then run the same command with --ckpt_path last."
    )
    saved = torch.load(last, weights_only=True)  # the epoch-0 save, whole: the epoch-1 save did not fit
    assert saved["gan_progress"]["d_steps"] == 3
    assert partial_files(last.parent) == []  # the cut-off temporary is gone: its space is free again


@pytest.mark.slow
@pytest.mark.parametrize(
    ("subcommand", "room", "refused"),
    [("test", 0, "test/config.yaml"), ("predict", 64 * 1024, "predict/samples.pt")],
)
def test_a_real_full_disk_in_test_and_predict_is_one_line_naming_the_file(small_disk, subcommand, room, refused):
    """``test`` on a full disk fails at its config.yaml; ``predict`` with 64 KB left writes that, then not its 1.5 MB
    of samples (torch.save given a file name raised a RuntimeError naming neither file nor cause)."""
    from tests.test_cli import SMALL

    cli.main(
        ["fit", "--config", QUICKSTART, *SMALL, "--trainer.max_epochs=1", f"--trainer.default_root_dir={small_disk}"]
    )
    run = small_disk / "version_0"
    trained = (run / "checkpoints" / "last.ckpt").read_bytes()
    fill(small_disk, leave=room)
    command = main_py_command(
        subcommand, "--config", QUICKSTART, *SMALL, f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}"
    )
    code, stderr = ended(command)
    assert code == 1
    assert one_error_line(stderr) == f"error: No space left on device ({run / refused}): the command stopped."
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == trained
    assert not (run / refused).exists() or subcommand == "test"  # samples.pt is written whole or not at all


@pytest.mark.slow
def test_a_folder_made_read_only_during_fit_is_one_line_and_the_last_checkpoint_loads(bind_point):
    from tests.test_cli import SMALL

    process = main_py_command(
        "fit", "--config", QUICKSTART, *SMALL, "--trainer.max_epochs=2000", f"--trainer.default_root_dir={bind_point}"
    )
    last = bind_point / "version_0" / "checkpoints" / "last.ckpt"
    wait_for(last, process)
    make_read_only(bind_point)
    code, stderr = ended(process)
    assert code == 1
    line = one_error_line(stderr)
    assert line.startswith(f"error: Read-only file system ({bind_point / 'version_0'}")
    assert line.endswith(
        f"The last good checkpoint is {last}: fix the cause, then run the same command with --ckpt_path last."
    )
    assert torch.load(last, weights_only=True)["gan_progress"]["d_steps"] >= 3


class DeleteFolder(L.Callback):
    """``rm -rf`` of the run folder (or a folder in it) after the given D step, as a person or a script would."""

    def __init__(self, inside: str = "", after_d_step: int = 4) -> None:
        self.inside, self.after_d_step = inside, after_d_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.d_steps == self.after_d_step:
            shutil.rmtree(Path(trainer.default_root_dir) / self.inside)


@pytest.mark.parametrize("inside", ["", "checkpoints"])
def test_a_folder_deleted_during_fit_is_one_line_not_silently_made_again(tmp_path, capsys, inside):
    """The run folder, or its checkpoints/, removed in epoch 1 after epoch 0's last.ckpt: the next write stops the
    run. Before, the save of last.ckpt made the folder again and training went on, exit 0 (always for checkpoints/;
    for the run folder when the sample grid had made it again before metrics.csv was written)."""
    from tests.test_cli import SMALL

    spec = {"class_path": "tests.test_faults.DeleteFolder", "init_args": {"inside": inside, "after_d_step": 4}}
    deleting = f"--trainer.callbacks+={json.dumps(spec)}"
    with pytest.raises(SystemExit) as stopped:
        cli.main(
            [
                "fit",
                "--config",
                QUICKSTART,
                *SMALL,
                "--trainer.max_epochs=3",
                deleting,
                f"--trainer.default_root_dir={tmp_path}",
            ]
        )
    assert stopped.value.code == 1
    run = tmp_path / "version_0"
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    if inside:
        assert errors == [
            f"error: folder deleted while the run was writing into it (not made again) ({run / 'checkpoints'}): the "
            "command stopped."
        ]
    else:  # the first write after it: metrics.csv, or a sample grid then the checkpoint
        assert len(errors) == 1 and f"({run}/" in errors[0] and errors[0].endswith("): the command stopped.")
    assert not (run / "checkpoints").exists()  # nothing claims to be a checkpoint of that run


def test_a_runs_root_that_is_a_file_is_one_line_saying_so(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.write_text("")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["fit", "--config", QUICKSTART, *RUN, f"--trainer.default_root_dir={runs}"])
    assert stopped.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: A file is where a folder is needed ({runs}): the command stopped."]


# each file a run writes, on a real full disk: an OSError naming that file (a failed write names none)
def test_an_atomic_save_on_a_real_full_disk_names_its_file_and_keeps_the_old_one(small_disk):
    """Checkpoints, the evaluation caches (classifier, real statistics, Inception weights) and predict's samples."""
    from gan_module.checkpoint_io import write_atomically

    target = small_disk / "cache" / "statistics.pt"
    write_atomically(target, lambda file: torch.save({"old": torch.zeros(10)}, file))
    fill(small_disk, leave=1 << 20)
    with pytest.raises(OSError) as raised:
        write_atomically(target, lambda file: torch.save({"new": torch.zeros(1 << 20)}, file))  # 4 MB
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(target))
    assert isinstance(raised.value.__cause__, RuntimeError)  # what torch raised: "unexpected pos"
    assert torch.equal(torch.load(target, weights_only=True)["old"], torch.zeros(10))
    assert partial_files(target.parent) == []


def test_metrics_csv_on_a_real_full_disk_names_its_file(small_disk):
    from gan_module.loggers import ResumableCSVLogger

    logger = ResumableCSVLogger(save_dir=str(small_disk), name="", version="")
    logger.log_metrics({"loss/d": 0.5}, step=0)
    fill(small_disk)
    with pytest.raises(OSError) as raised:
        logger.save()
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(small_disk / "metrics.csv"))


def test_a_sample_grid_on_a_real_full_disk_names_its_file(small_disk):
    from types import SimpleNamespace

    from callbacks.images import log_image

    fill(small_disk)
    trainer = SimpleNamespace(loggers=[], default_root_dir=str(small_disk))
    with pytest.raises(OSError) as raised:
        log_image(trainer, "samples", torch.rand(3, 256, 256), 7)
    assert (raised.value.errno, raised.value.filename) == (
        errno.ENOSPC,
        str(small_disk / "images/samples/iter_00000007.png"),
    )


@pytest.mark.parametrize("given", ["a file", "a file name"])
def test_what_torch_raises_on_a_real_full_disk_is_found_to_be_that_fault(small_disk, given):
    """Given a file, torch's RuntimeError was raised while handling the OSError; given a file name, its C++ stream
    fails with no OSError at all (``unexpected pos``, behind it ``iostream error``)."""
    from gan_module.run.faults import os_fault_behind

    fill(small_disk, leave=1 << 20)
    target = small_disk / "big.pt"
    with pytest.raises(RuntimeError) as raised:
        if given == "a file":
            with open(target, "wb") as file:
                torch.save(torch.zeros(1 << 20), file)
        else:
            torch.save(torch.zeros(1 << 20), target)
    assert "unexpected pos" in str(raised.value)
    fault = os_fault_behind(raised.value)
    if given == "a file":
        assert fault is raised.value.__context__ and fault.errno == errno.ENOSPC
    else:
        assert fault is not None and fault.errno == errno.EIO and "a write failed (torch:" in fault.strerror
