"""The study's two pictures: the ranking metric against iterations per candidate, and every candidate's samples."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from gan_module.study.criteria import context_axes
from gan_module.study.layout import CURVES, SAMPLES
from gan_module.study.result import RunResult

if TYPE_CHECKING:  # for type hints only: spec.py imports the claims and criteria it checks against
    from gan_module.study.spec import Study


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on clusters; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def plot_curves(study: Study, results: list[RunResult]) -> Path | None:
    """``curves.png``: the ranking metric at each evaluation during training, mean over seeds per candidate.

    One panel per value of the axes without decision labels (the dataset, say), as in answers.md, so no
    panel holds more lines than one dataset's candidates; colours and line styles together tell them apart.
    """
    by_candidate: dict[str, dict[int, list[float]]] = {}
    for result in results:
        points = by_candidate.setdefault(result.candidate, {})
        for iteration, value in result.curve:
            points.setdefault(int(iteration), []).append(value)
    if not any(by_candidate.values()):
        return None
    panels = _panels(study, [name for name, points in by_candidate.items() if points])
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5), dpi=100, squeeze=False)
    colours = plt.get_cmap("tab20").colors
    for ax, (title, names) in zip(axes.flat, panels.items(), strict=True):
        for i, name in enumerate(names):
            points = by_candidate[name]
            xs = sorted(points)
            ys = [sum(points[x]) / len(points[x]) for x in xs]
            style = ("-", "--", ":")[i // len(colours) % 3]
            ax.plot(xs, ys, style, marker=".", color=colours[i % len(colours)], label=name)
        ax.set_xlabel("generator iterations")
        ax.set_ylabel(study.rank_metric)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(f"{study.name}: {study.rank_metric} during training (mean over seeds)")
    fig.tight_layout()
    path = study.layout.report(CURVES)
    fig.savefig(path)
    plt.close(fig)
    return path


def _panels(study: Study, names: list[str]) -> dict[str, list[str]]:
    """Candidate names grouped by their values of the context axes, in study order."""
    contexts = context_axes(study)
    panels: dict[str, list[str]] = {}
    for candidate in study.candidates():
        if candidate.name in names:
            title = ", ".join(f"{axis} = {candidate.value(axis)}" for axis in contexts) or "all candidates"
            panels.setdefault(title, []).append(candidate.name)
    return panels


def plot_samples(study: Study, results: list[RunResult]) -> Path | None:
    """``samples.png``: the last sample image of each candidate's first seed, side by side, ranked order kept."""
    first: dict[str, str] = {}
    for result in sorted(results, key=lambda r: r.seed):
        if result.samples and Path(result.samples).is_file():
            first.setdefault(result.candidate, result.samples)
    if not first:
        return None
    plt = _pyplot()
    names = [c.name for c in study.candidates() if c.name in first]
    cols = min(5, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        ax.imshow(plt.imread(first[name]))
        ax.set_title(name, fontsize=8)
    fig.tight_layout()
    path = study.layout.report(SAMPLES)
    fig.savefig(path)
    plt.close(fig)
    return path
