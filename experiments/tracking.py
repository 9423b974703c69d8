"""MLflow tracking: the one module that imports mlflow (lazily, on first use).

Store: ``MLFLOW_TRACKING_URI`` when set (a tracking server, a database URL ...),
otherwise a SQLite store at ``./mlruns/mlflow.db`` with artifacts in
``./mlruns/artifacts`` (MLflow's plain file store is deprecated). Every run gets
settings as params, final figures as metrics, daily figures as step metrics sent in
batches (never one call per number), artifacts, and tags for the git commit, the
package version and a fingerprint of its input data.

A tracking failure never loses a result: the run is written as JSON (plus its
artifacts) under ``./mlruns/unsent/`` and a :class:`TrackingWarning` says where.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "Tracker",
    "TrackingWarning",
    "data_fingerprint",
    "default_tracking_uri",
    "file_fingerprint",
    "log_abtest",
    "log_recommendation",
]

_BATCH = 1000  # MLflow accepts at most 1000 metrics per log_batch call


@dataclass(frozen=True)
class _Run:
    """One finished run as handed to MLflow or kept locally."""

    name: str
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    step_metrics: pd.DataFrame | None
    artifacts: Mapping[str, str | Path]
    tags: Mapping[str, str]


class TrackingWarning(UserWarning):
    """Tracking failed; the result was kept locally instead."""


def default_tracking_uri(root: str | Path = ".") -> str:
    """``MLFLOW_TRACKING_URI`` or the local SQLite store under ``root/mlruns``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    store = Path(root).resolve() / "mlruns"
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


@contextlib.contextmanager
def _opening(uri: str) -> Iterator[None]:
    """Hold an exclusive lock while a SQLite store is opened (and its experiment made).

    MLflow creates and migrates a SQLite store's tables on first open with no guard, so
    two processes opening a new file at once (the server's start-up read and its logger
    process, or two tuning workers) both run ``CREATE TABLE`` and one fails. The lock is
    a file beside the database, so it holds across processes; other stores pass through.
    """
    path = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
    if not path or path == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock, MLflow's own behaviour
        yield
        return
    lock = Path(path + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _client(uri: str) -> Any:
    """An MlflowClient whose store is open (MLflow opens it in the constructor)."""
    import logging

    from mlflow.tracking import MlflowClient

    # MLflow and its migrations log at INFO on first use: noise on a CLI.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with _opening(uri):
        return MlflowClient(tracking_uri=uri)


def data_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a table's content (order-sensitive), first 16 hex digits."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _version() -> str:
    try:
        return metadata.version("adbandit")
    except metadata.PackageNotFoundError:
        return "unknown"


class Tracker:
    """Logs runs to one MLflow experiment; see the module docstring.

    Parameters
    ----------
    experiment : str
        MLflow experiment name (created on first use).
    uri : str, optional
        Tracking URI; default :func:`default_tracking_uri` under ``root``.
    root : path
        Where ``mlruns/`` lives for the default store and the unsent fallback.
    """

    def __init__(
        self, experiment: str = "adbandit", uri: str | None = None, root: str | Path = "."
    ):
        self.experiment = experiment
        self.root = Path(root).resolve()
        self.uri = uri or default_tracking_uri(self.root)
        self._client: Any = None
        self._experiment_id: str | None = None

    def _connect(self) -> tuple[Any, str]:
        if self._client is None:
            self._client = _client(self.uri)
        if self._experiment_id is None:
            # Under the lock too: two processes must not both find no experiment and
            # both create it (the second would fail on the unique name).
            with _opening(self.uri):
                found = self._client.get_experiment_by_name(self.experiment)
                if found is not None:
                    self._experiment_id = found.experiment_id
                else:
                    location = None
                    if self.uri.startswith("sqlite:"):
                        location = (self.root / "mlruns" / "artifacts").as_uri()
                    self._experiment_id = self._client.create_experiment(
                        self.experiment, artifact_location=location
                    )
        return self._client, str(self._experiment_id)

    def log_run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        step_metrics: pd.DataFrame | None = None,
        artifacts: Mapping[str, str | Path] | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        data: pd.DataFrame | None = None,
    ) -> str | None:
        """Log one finished run; returns its run id, or None if it was kept locally.

        ``step_metrics`` has one row per step (its index) and one column per metric;
        its names must differ from ``metrics`` (MLflow keeps one latest value per key).
        ``artifacts`` maps a name to a file to attach.
        """
        if step_metrics is not None and set(step_metrics.columns) & set(metrics or {}):
            clash = ", ".join(sorted(set(step_metrics.columns) & set(metrics or {})))
            raise ValueError(f"step metrics and final metrics share names: {clash}")
        all_tags = {
            "git_commit": _git_commit(),
            "adbandit_version": _version(),
            **({"data_fingerprint": data_fingerprint(data)} if data is not None else {}),
            **dict(tags or {}),
        }
        record = _Run(name, params or {}, metrics or {}, step_metrics, artifacts or {}, all_tags)
        try:
            return self._send(record, parent_run_id)
        except Exception as exc:
            where = self._keep_locally(record)
            warnings.warn(
                f"MLflow tracking at {self.uri} failed ({type(exc).__name__}: {exc}); "
                f"the run was saved to {where}",
                TrackingWarning,
                stacklevel=2,
            )
            return None

    def _send(self, record: _Run, parent_run_id: str | None) -> str:
        from mlflow.entities import Metric, Param

        client, experiment_id = self._connect()
        run_tags = dict(record.tags)
        if parent_run_id:
            run_tags["mlflow.parentRunId"] = parent_run_id
        run = client.create_run(experiment_id, run_name=record.name, tags=run_tags)
        run_id = run.info.run_id
        try:
            now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
            batch: list[Any] = [Metric(k, float(v), now, 0) for k, v in record.metrics.items()]
            if record.step_metrics is not None:
                for step, row in record.step_metrics.iterrows():
                    batch += [
                        Metric(str(k), float(v), now, int(step))
                        for k, v in row.items()
                        if pd.notna(v)
                    ]
            params_list = [Param(str(k), _param(v)) for k, v in record.params.items()]
            client.log_batch(run_id, params=params_list[:100])
            for i in range(100, len(params_list), 100):
                client.log_batch(run_id, params=params_list[i : i + 100])
            for i in range(0, len(batch), _BATCH):
                client.log_batch(run_id, metrics=batch[i : i + _BATCH])
            for path in record.artifacts.values():
                client.log_artifact(run_id, str(path))
            client.set_terminated(run_id)
        except Exception:
            # Do not leave a half-written run looking alive; the caller keeps it locally.
            try:
                client.set_terminated(run_id, status="FAILED")
            except Exception:
                pass
            raise
        return str(run_id)

    def _keep_locally(self, record: _Run) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        folder = self.root / "mlruns" / "unsent" / f"{stamp}-{record.name}"
        folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "experiment": self.experiment,
            "name": record.name,
            "params": {k: _param(v) for k, v in record.params.items()},
            "metrics": {k: float(v) for k, v in record.metrics.items()},
            "tags": dict(record.tags),
            "step_metrics": None
            if record.step_metrics is None
            else record.step_metrics.to_dict(orient="list"),
            "missing_artifacts": [
                str(p) for p in record.artifacts.values() if not Path(p).is_file()
            ],
        }
        (folder / "run.json").write_text(json.dumps(payload, indent=2))
        for path in record.artifacts.values():
            if Path(path).is_file():
                shutil.copy(path, folder)
        return folder

    def runs(self, *, max_results: int | None = None, page_size: int = 1000) -> pd.DataFrame:
        """Every run of the experiment, fetched ``page_size`` at a time (MLflow caps a call
        at 1,000 runs; we follow the page token until the last page).

        One row per run: ``run_id, name, status, start_time`` then ``params.*``,
        ``metrics.*`` and ``tags.*`` columns.
        """
        client, experiment_id = self._connect()
        rows, token = [], None
        while True:
            page = client.search_runs([experiment_id], max_results=page_size, page_token=token)
            for r in page:
                row = {
                    "run_id": r.info.run_id,
                    "name": r.info.run_name,
                    "status": r.info.status,
                    "start_time": r.info.start_time,
                }
                row.update({f"params.{k}": v for k, v in r.data.params.items()})
                row.update({f"metrics.{k}": v for k, v in r.data.metrics.items()})
                row.update({f"tags.{k}": v for k, v in r.data.tags.items()})
                rows.append(row)
            token = page.token
            if not token or (max_results is not None and len(rows) >= max_results):
                break
        return pd.DataFrame(rows)

    def metric_history(self, run_id: str, key: str) -> pd.DataFrame:
        """A step metric's values: columns ``step, value``."""
        client, _ = self._connect()
        history = client.get_metric_history(run_id, key)
        return pd.DataFrame(
            {"step": [m.step for m in history], "value": [m.value for m in history]}
        )


def list_experiments(uri: str | None = None) -> pd.DataFrame:
    """Every MLflow experiment at ``uri`` with its run count: ``experiment_id, name, n_runs``."""
    client = _client(uri or default_tracking_uri())
    rows = []
    for experiment in client.search_experiments():
        n_runs, token = 0, None
        while True:
            page = client.search_runs(
                [experiment.experiment_id], max_results=1000, page_token=token
            )
            n_runs += len(page)
            token = page.token
            if not token:
                break
        rows.append(
            {"experiment_id": experiment.experiment_id, "name": experiment.name, "n_runs": n_runs}
        )
    return pd.DataFrame(rows, columns=["experiment_id", "name", "n_runs"])


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]


def file_fingerprint(path: str | Path) -> str:
    """sha256 of a file's bytes, first 16 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def log_recommendation(
    rec: Any,
    stats: str | Path | pd.DataFrame,
    tracker: Tracker | None = None,
    tags: Mapping[str, str] | None = None,
) -> str | None:
    """Log one :class:`optimizer.Recommendation` (settings, figures, the split as CSV).

    ``stats`` is the file or table it was computed from; only its fingerprint is logged.
    """
    import tempfile

    tracker = tracker or Tracker("adbandit-recommendations")
    payload = rec.to_dict()
    table = rec.allocations
    with tempfile.TemporaryDirectory() as folder:
        split = Path(folder) / "allocations.csv"
        table.to_csv(split, index=False)
        config = Path(folder) / "recommendation.json"
        config.write_text(json.dumps(payload, indent=2))
        return tracker.log_run(
            f"{rec.campaign}-{rec.as_of.isoformat()}",
            params={
                "budget": rec.budget,
                "objective": rec.objective,
                "as_of": rec.as_of.isoformat(),
                "seed": rec.seed,
                "config": payload["config"],
                "delay": payload["delay"]["description"],
            },
            metrics={
                "expected_conversions": float(table["expected_conversions"].sum()),
                "n_arms": float(len(table)),
                "p_best_max": float(table["p_best"].max()),
                "p_best_error": float(rec.p_best_error),
                "prior_strength": float(rec.prior_strength),
            },
            artifacts={"allocations": split, "recommendation": config},
            tags={
                "kind": "recommendation",
                "stats_sha256": (
                    data_fingerprint(stats)
                    if isinstance(stats, pd.DataFrame)
                    else file_fingerprint(stats)
                ),
                **dict(tags or {}),
            },
        )


def log_abtest(
    name: str,
    readout: pd.DataFrame,
    decision: Any,
    params: Mapping[str, Any],
    artifacts: Mapping[str, str | Path] | None = None,
    step_metrics: pd.DataFrame | None = None,
    tracker: Tracker | None = None,
) -> str | None:
    """Log an A/B readout or a whole unattended test with its verdict."""
    tracker = tracker or Tracker("adbandit-abtests")
    lead = int(readout["chance_to_be_best"].to_numpy().argmax())
    return tracker.log_run(
        name,
        params={**dict(params), "verdict": decision.reason},
        metrics={
            "stopped": float(decision.stop),
            "leader_chance_to_be_best": float(readout["chance_to_be_best"].iloc[lead]),
            "leader_expected_loss_rel": float(readout["expected_loss_rel"].iloc[lead]),
            "n_variants": float(len(readout)),
        },
        step_metrics=step_metrics,
        artifacts=artifacts or {},
        tags={"kind": "abtest", "winner": str(decision.winner or "")},
        data=readout,
    )
