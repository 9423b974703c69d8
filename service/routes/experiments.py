"""Experiments and runs tracked in MLflow, and their comparison."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from starlette.exceptions import HTTPException

import experiments
import optimizer

from ..auth import Principal
from ..deps import require
from ..errors import NotFoundError
from ..schemas import ComparisonOut, ExperimentOut
from . import READ, errors, json_value

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: errors(401)[401] | {"description": "The MLflow tracking store does not answer"}
}

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


@router.get("", response_model=list[ExperimentOut], responses=READ | UNAVAILABLE)
def list_experiments(request: Request, _who: Viewer) -> list[ExperimentOut]:
    """Every MLflow experiment (simulations, A/B tests, tuning, recommendations)."""
    table = _experiments(request)
    return [
        ExperimentOut(**row, url=_ui(request, row["experiment_id"]))
        for row in table.to_dict("records")
    ]


@router.get("/compare", response_model=ComparisonOut, responses=READ | UNAVAILABLE)
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
    table = _experiments(request)
    known = table["name"].tolist()
    ids = dict(zip(table["name"], table["experiment_id"], strict=True))
    names = experiment or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NotFoundError(f"no experiment named {', '.join(map(repr, unknown[:5]))}")
    run_ids = [r.strip() for r in runs.split(",") if r.strip()] if runs else None
    try:
        found = experiments.compare_runs(
            names, run_ids=run_ids, baseline=baseline, uri=_uri(request)
        )
    except KeyError as exc:
        raise optimizer.InvalidInputError(
            [optimizer.InputProblem(None, "baseline", str(exc.args[0]))]
        ) from None
    except Exception as exc:  # the tracking store, not the request, failed
        raise TrackingUnavailable(exc) from None
    if run_ids:
        missing = sorted(set(run_ids) - set(found["run_id"]))
        if missing:
            raise NotFoundError(f"no run with id {', '.join(missing[:5])}")
    rows = [
        {k: json_value(v) for k, v in row.items()}
        | {"url": _ui(request, ids[row["experiment"]], row["run_id"])}
        for row in found.to_dict("records")
    ]
    return ComparisonOut(runs=rows)


class TrackingUnavailable(HTTPException):
    def __init__(self, exc: Exception) -> None:
        first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        super().__init__(503, f"the MLflow tracking store does not answer: {first}")


def _experiments(request: Request) -> pd.DataFrame:
    try:
        return experiments.list_experiments(_uri(request))
    except Exception as exc:  # the tracking store, not the request, failed
        raise TrackingUnavailable(exc) from None
