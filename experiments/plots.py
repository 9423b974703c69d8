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


def autotest_plots(daily: pd.DataFrame, folder: str | Path) -> list[Path]:
    """Allocation over time, P(best) over time, cumulative conversions, final intervals."""
    plt = _pyplot()
    folder = Path(folder)
    paths = []
    for column, label, name in (
        ("share", "share of the budget", "allocation.png"),
        ("p_best", "P(best)", "p_best.png"),
        ("cum_conversions", "cumulative conversions", "conversions.png"),
    ):
        fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
        wide = daily.pivot(index="day", columns="arm", values=column)
        if column == "share":
            ax.stackplot(wide.index, wide.to_numpy().T, labels=wide.columns, alpha=0.85)
        else:
            for arm in wide.columns:
                ax.plot(wide.index, wide[arm], label=arm)
        ax.set_xlabel("day")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2, loc="upper left")
        fig.tight_layout()
        fig.savefig(folder / name)
        plt.close(fig)
        paths.append(folder / name)
    last = daily[daily["day"] == daily["day"].max()].sort_values("rate_mean")
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(last) + 1.5), dpi=110)
    y = np.arange(len(last))
    err = np.clip(
        np.vstack([last["rate_mean"] - last["rate_low"], last["rate_high"] - last["rate_mean"]]),
        0.0,
        None,
    )
    ax.errorbar(last["rate_mean"], y, xerr=err, fmt="o", capsize=3)
    ax.set_yticks(y, last["arm"])
    ax.set_xlabel("conversions per unit of spend (95% interval)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "intervals.png")
    plt.close(fig)
    paths.append(folder / "intervals.png")
    return paths
