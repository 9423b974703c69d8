"""Experiments and runs tracked in MLflow, and their comparison."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

import experiments
import optimizer

from ..auth import Principal
from ..deps import require
from ..errors import NotFoundError
from ..schemas import ComparisonOut, ExperimentOut
from . import READ

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])
Viewer = Annotated[Principal, Depends(require("viewer"))]


def _uri(request: Request) -> str | None:
    uri: str | None = request.app.state.settings.tracking_uri
    return uri


def _ui(request: Request, experiment_id: str, run_id: str | None = None) -> str | None:
    base = request.app.state.settings.mlflow_ui_url
    if not base:
        return None
    url = f"{base.rstrip('/')}/#/experiments/{experiment_id}"
    return f"{url}/runs/{run_id}" if run_id else url


@router.get("", response_model=list[ExperimentOut], responses=READ)
def list_experiments(request: Request, _who: Viewer) -> list[ExperimentOut]:
    """Every MLflow experiment (simulations, A/B tests, tuning, recommendations)."""
    table = experiments.list_experiments(_uri(request))
    return [
        ExperimentOut(**row, url=_ui(request, row["experiment_id"]))
        for row in table.to_dict("records")
    ]


@router.get("/compare", response_model=ComparisonOut, responses=READ)
def compare(
    request: Request,
    _who: Viewer,
    runs: Annotated[
        str | None, Query(max_length=10_000, description="comma-separated run ids")
    ] = None,
    experiment: Annotated[
        list[str] | None, Query(description="experiment names (default: all)")
    ] = None,
    baseline: Annotated[str | None, Query(max_length=200, description="run id or name")] = None,
) -> ComparisonOut:
    """Key figures (conversions, regret with its interval, CPA, ROAS) of the chosen runs,
    relative to a baseline run when one is named."""
    names = experiment or experiments.list_experiments(_uri(request))["name"].tolist()
    run_ids = [r.strip() for r in runs.split(",") if r.strip()] if runs else None
    try:
        table = experiments.compare_runs(
            names, run_ids=run_ids, baseline=baseline, uri=_uri(request)
        )
    except KeyError as exc:
        raise optimizer.InvalidInputError(
            [optimizer.InputProblem(None, "baseline", str(exc.args[0]))]
        ) from None
    if run_ids:
        missing = sorted(set(run_ids) - set(table["run_id"]))
        if missing:
            raise NotFoundError(f"no run with id {', '.join(missing[:5])}")
    rows = [{k: _json(v) for k, v in row.items()} for row in table.to_dict("records")]
    return ComparisonOut(runs=rows)


def _json(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
