"""Does the creative x audience main-effects prior help cells with little spend?

Usage:  python benchmarks/hierarchy_check.py [--grids 200]

Each grid: 8 creatives x 6 audiences, true rate = 0.03 x creative effect x audience
effect x Gamma(8)/8 cell noise (log-normal effects, sd 0.4), spend per cell
log-normal (median 150, sd 1.5: many thin cells), Poisson conversions. Three
estimates of each cell's conversions per spend:

  main effects   optimizer.GammaPoissonModel (the shipped prior)
  pooled prior   the same Gamma-Poisson shrinkage toward the campaign's pooled rate
  independent    each cell alone, (conversions + 0.5) / spend (Jeffreys)

Error: root mean square of log(estimate / truth), for cells with fewer than 5
expected conversions ("sparse") and for all cells. Writes
benchmarks/results/hierarchy_check.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

import optimizer
from optimizer.model import _fit_strength

RESULTS = Path(__file__).parent / "results"


def one_grid(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n_c, n_a = 8, 6
    c_eff = rng.lognormal(0, 0.4, n_c)
    a_eff = rng.lognormal(0, 0.4, n_a)
    truth = 0.03 * np.outer(c_eff, a_eff).ravel() * rng.gamma(8, 1 / 8, n_c * n_a)
    spend = rng.lognormal(np.log(150), 1.5, n_c * n_a)
    conv = rng.poisson(truth * spend).astype(float)
    totals = pd.DataFrame(
        {
            "creative": np.repeat([f"c{i}" for i in range(n_c)], n_a),
            "audience": np.tile([f"a{j}" for j in range(n_a)], n_c),
            "exposure": spend,
            "weighted_conversions": conv,
        }
    )
    main = optimizer.GammaPoissonModel().fit(totals).posterior(totals).mean
    pooled_rate = conv.sum() / spend.sum()
    k = _fit_strength(conv, pooled_rate * spend, 0.1, 5.0)
    pooled = (k + conv) / (k / pooled_rate + spend)
    independent = (conv + 0.5) / spend
    return {
        "truth": truth,
        "expected": truth * spend,
        "main effects": main,
        "pooled prior": pooled,
        "independent": independent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(args.seed).spawn(args.grids)]
    runs = [one_grid(r) for r in rngs]
    truth = np.concatenate([r["truth"] for r in runs])
    sparse = np.concatenate([r["expected"] for r in runs]) < 5
    rows = []
    print(
        f"| estimate | RMS log error, sparse cells ({sparse.sum():,}) | RMS log error, all cells "
        f"({truth.size:,}) |"
    )
    print("|---|---:|---:|")
    for name in ("main effects", "pooled prior", "independent"):
        est = np.concatenate([r[name] for r in runs])
        err = np.log(est / truth)
        rms_sparse = float(np.sqrt(np.mean(err[sparse] ** 2)))
        rms_all = float(np.sqrt(np.mean(err**2)))
        rows.append(
            {"estimate": name, "rms_log_error_sparse": rms_sparse, "rms_log_error_all": rms_all}
        )
        print(f"| {name} | {rms_sparse:.3f} | {rms_all:.3f} |")
    base = rows[0]["rms_log_error_sparse"]
    for r in rows[1:]:
        print(
            f"main effects vs {r['estimate']}: sparse-cell error "
            f"{1 - base / r['rms_log_error_sparse']:.0%} lower"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "hierarchy_check.json"
    out.write_text(json.dumps({"grids": args.grids, "rows": rows}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
