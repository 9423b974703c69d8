"""Bayesian A/B test readouts."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends

import experiments

from ..auth import Principal
from ..deps import require
from ..schemas import AbTestIn, AbTestOut
from . import errors, json_value

router = APIRouter(prefix="/v1/abtests", tags=["abtests"])
Viewer = Annotated[Principal, Depends(require("viewer"))]


@router.post("/analyze", response_model=AbTestOut, responses=errors(400, 401, 403, 422))
def analyze(body: AbTestIn, _who: Viewer) -> AbTestOut:
    """Chance to beat control, uplift intervals, expected loss, SRM and the stopping verdict.

    Read-only (a viewer may call it): nothing is stored.
    """
    counts = pd.DataFrame([v.model_dump(exclude_none=True) for v in body.variants])
    result = experiments.analyze_ab(
        counts, control=body.control, metric=body.metric, level=body.level, seed=body.seed
    )
    srm: dict[str, Any] = {"chi2": None, "p_value": None, "mismatch": False}
    if "users" in counts and counts["users"].notna().all() and counts["users"].sum() > 0:
        srm = experiments.srm_check(result, expected_share=body.expected_share)
    verdict = experiments.stopping_rule(
        result,
        min_chance_to_be_best=body.min_chance_to_be_best,
        max_expected_loss_rel=body.max_expected_loss_rel,
        min_users=body.min_users,
        srm=srm,
    )
    return AbTestOut(
        metric=body.metric,
        control=body.control,
        variants=[{k: json_value(v) for k, v in row.items()} for row in result.to_dict("records")],
        srm={k: json_value(v) for k, v in srm.items()},
        stop=verdict.stop,
        winner=verdict.winner,
        verdict=verdict.reason,
    )
