"""Comparison of tracked runs for marketing leads: key figures, intervals, a baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .tracking import Tracker

__all__ = ["FIGURES", "compare_runs", "comparison_plot"]

#: figure -> (column of its value, columns of its 95% interval or None, higher is better)
FIGURES: dict[str, tuple[str, tuple[str, str] | None, bool]] = {
    "conversions": ("metrics.conversions", None, True),
    "regret": ("metrics.regret", ("metrics.regret_low", "metrics.regret_high"), False),
    "cpa": ("metrics.cpa", None, False),
    "roas": ("metrics.roas", None, True),
    "mean_conversions": ("metrics.mean_conversions", None, True),
}


def compare_runs(
    experiments: Sequence[str],
    *,
    run_ids: Sequence[str] | None = None,
    baseline: str | None = None,
    tracker_factory: type[Tracker] = Tracker,
    uri: str | None = None,
) -> pd.DataFrame:
    """One row per run of the given MLflow experiments (or just ``run_ids``).

    Columns: ``experiment, run_id, name`` then, for every figure present, its value,
    ``<figure>_low``/``_high`` where the run logged an interval, and with a
    ``baseline`` (run id or run name) ``<figure>_vs_baseline`` (relative
    difference). Experiments with more than 1,000 runs are paged through.
    """
    frames = []
    for name in experiments:
        runs = tracker_factory(name, uri=uri).runs()
        if not runs.empty:
            frames.append(runs.assign(experiment=name))
    if not frames:
        return pd.DataFrame(columns=["experiment", "run_id", "name"])
    runs = pd.concat(frames, ignore_index=True)
    if run_ids:
        runs = runs[runs["run_id"].isin(run_ids)]
    out = runs[["experiment", "run_id", "name"]].copy()
    for figure, (column, interval, _) in FIGURES.items():
        if column not in runs:
            continue
        out[figure] = pd.to_numeric(runs[column], errors="coerce")
        if interval and all(c in runs for c in interval):
            out[f"{figure}_low"] = pd.to_numeric(runs[interval[0]], errors="coerce")
            out[f"{figure}_high"] = pd.to_numeric(runs[interval[1]], errors="coerce")
    empty = [c for c in out.columns[3:] if out[c].isna().all()]  # keep the id columns
    out = out.drop(columns=empty).reset_index(drop=True)
    if baseline is not None:
        match = out[(out["run_id"] == baseline) | (out["name"] == baseline)]
        if match.empty:
            raise KeyError(f"baseline {baseline!r} is neither a run id nor a run name here")
        base = match.iloc[0]
        for figure in FIGURES:
            if figure in out and pd.notna(base[figure]) and base[figure] != 0:
                out[f"{figure}_vs_baseline"] = out[figure] / base[figure] - 1.0
    return out


def comparison_plot(table: pd.DataFrame, path: str | Path, figure: str = "regret") -> Path:
    """Horizontal bars of one figure per run, with its 95% interval where logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = table.dropna(subset=[figure]).sort_values(figure)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(data) + 1.5), dpi=110)
    y = np.arange(len(data))
    err = None
    if f"{figure}_low" in data:
        err = np.clip(
            np.vstack(
                [data[figure] - data[f"{figure}_low"], data[f"{figure}_high"] - data[figure]]
            ),
            0.0,
            None,
        )
    ax.barh(y, data[figure], xerr=err, color="#4C72B0", alpha=0.85, capsize=3)
    ax.set_yticks(y, data["name"].astype(str))
    ax.set_xlabel(figure)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
