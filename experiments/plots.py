"""Plots people would rather look at than read (matplotlib, files only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def cumulative_regret(daily: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Mean cumulative regret per policy over the days, with a 95% band over seeds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for name, part in daily.groupby("policy", sort=False):
        curves = part.pivot(index="day", columns="seed", values="cumulative_regret")
        mean = curves.mean(axis=1)
        half = (
            1.96 * curves.std(axis=1, ddof=1) / np.sqrt(curves.shape[1])
            if curves.shape[1] > 1
            else 0
        )
        ax.plot(mean.index, mean.to_numpy(), label=str(name))
        ax.fill_between(mean.index, (mean - half).to_numpy(), (mean + half).to_numpy(), alpha=0.2)
    ax.set_xlabel("day")
    ax.set_ylabel("cumulative regret (conversions)")
    ax.set_title(title or "Regret against an oracle that knows the truth")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
