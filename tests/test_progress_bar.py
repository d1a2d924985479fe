"""callbacks/progress_bar.py: the bar shows the module's step numbers and redraws a few times a second, not after
every batch, while still reaching every epoch's last batch."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from lightning.pytorch.callbacks import RichProgressBar

from callbacks.progress_bar import ProgressBar
from gan_module.run.step_log import StepLog


def test_the_bar_updates_at_most_refresh_rate_times_a_second_and_on_the_last_batch(monkeypatch):
    updates = []
    monkeypatch.setattr(RichProgressBar, "on_train_batch_end", lambda self, t, m, o, b, i: updates.append(i))
    bar = ProgressBar(refresh_rate=4)
    trainer = SimpleNamespace(num_training_batches=100)
    clock = iter([0.0, 0.01, 0.02, 0.2, 0.26, 0.27, 0.28, 0.29])  # seconds at each batch end
    monkeypatch.setattr("callbacks.progress_bar.time.monotonic", lambda: next(clock))
    for batch_idx in (0, 1, 2, 3, 4, 5, 6, 99):
        bar.on_train_batch_end(trainer, None, None, None, batch_idx)
    # 0 s: drawn; 0.01, 0.02, 0.2: within a quarter second; 0.26: drawn; then only the epoch's last batch
    assert updates == [0, 4, 99]


def test_the_bar_shows_the_step_log_numbers(monkeypatch):
    monkeypatch.setattr(RichProgressBar, "get_metrics", lambda self, t, m: {"v_num": 0})
    log = StepLog()
    log.bar.update(loss_d=torch.tensor(0.25), loss_g=torch.tensor(1.5), issues=1)
    shown = ProgressBar().get_metrics(None, SimpleNamespace(step_log=log))
    assert shown == {"v_num": 0, "loss_d": 0.25, "loss_g": 1.5, "issues": 1.0}
