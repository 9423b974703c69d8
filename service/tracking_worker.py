"""Logs recommendations to MLflow in a separate process, off the request path.

A request only drops the recommendation into a bounded queue and returns. A child
process (spawned, so it shares no locks with the server) imports MLflow, logs one
run per recommendation and writes the run id back to the recommendation's row.
MLflow being slow or down therefore never fails or slows a request: when the queue
is full, new recommendations are not logged, and the server says so in its log.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
from typing import Any

import pandas as pd

import optimizer

__all__ = ["RecommendationLogger"]

log = logging.getLogger("adbandit.tracking")


class RecommendationLogger:
    """A bounded queue and the process that empties it into MLflow."""

    def __init__(self, database_url: str, tracking_uri: str | None, maxsize: int = 1000) -> None:
        context = mp.get_context("spawn")
        self._queue: Any = context.Queue(maxsize)
        self._process = context.Process(
            target=_work,
            args=(self._queue, database_url, tracking_uri),
            name="adbandit-mlflow-logger",
            daemon=True,
        )
        self.n_dropped = 0

    def start(self) -> None:
        self._process.start()

    def submit(self, rec_id: int, rec: optimizer.Recommendation, stats: pd.DataFrame) -> bool:
        """Queue one recommendation for logging; False (and a log line) when it cannot."""
        if not self._process.is_alive():
            self.n_dropped += 1
            log.warning("MLflow logger is not running; recommendation %d is not tracked", rec_id)
            return False
        try:
            self._queue.put_nowait((rec_id, rec, stats))
        except queue.Full:
            self.n_dropped += 1
            log.warning("MLflow logging is behind; recommendation %d is not tracked", rec_id)
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Let queued runs finish for up to ``timeout`` seconds, then stop the process."""
        if self._process.is_alive():
            try:
                self._queue.put(None, timeout=1.0)
            except queue.Full:
                pass
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(2.0)
        self._queue.cancel_join_thread()
        self._queue.close()


def _work(jobs: Any, database_url: str, tracking_uri: str | None) -> None:
    import warnings

    from experiments import Tracker
    from experiments.tracking import TrackingWarning, log_recommendation

    from .db import Database
    from .models import RecommendationRecord

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    tracker = Tracker("adbandit-recommendations", uri=tracking_uri)
    db = Database(database_url)
    while True:
        item = jobs.get()
        if item is None:
            break
        rec_id, rec, stats = item
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                run_id = log_recommendation(
                    rec, stats, tracker, tags={"recommendation_id": str(rec_id)}
                )
            for w in caught:
                # TrackingWarning says the run failed and where it was kept; the rest is
                # library chatter (MLflow 3.17 on SQLAlchemy 2.1 warns about ``noload``
                # on every run) that would bury it.
                failed = issubclass(w.category, TrackingWarning)
                log.log(
                    logging.WARNING if failed else logging.DEBUG,
                    "recommendation %d: %s",
                    rec_id,
                    w.message,
                )
            if run_id is not None:
                with db.session(write=True) as session:
                    record = session.get(RecommendationRecord, rec_id)
                    if record is not None:
                        record.tracking_run_id = run_id
        except Exception:  # one bad run must not stop the logger
            log.exception("could not log recommendation %d to MLflow", rec_id)
    db.dispose()
