"""Recommendations reach MLflow from a background process; MLflow hanging never holds a
request up."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import experiments
from service.app import create_app
from service.db import Database
from service.settings import Settings
from tests.service.conftest import auth
from tests.service.test_api import stats_rows


def _seed_campaign(client: TestClient, key: str) -> int:
    cid: int = client.post("/v1/campaigns", json={"name": "spring"}, headers=auth(key)).json()["id"]
    r = client.post(f"/v1/campaigns/{cid}/stats", json={"rows": stats_rows()}, headers=auth(key))
    assert r.status_code == 200
    return cid


def test_each_recommendation_becomes_an_mlflow_run(
    tmp_path: Path, db: Database, keys: dict[str, str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = Settings(database_url=db.url, tracking=True, tracking_uri=uri)
    with TestClient(create_app(settings)) as client:
        key = keys["automation"]
        cid = _seed_campaign(client, key)
        rec = client.post(
            f"/v1/campaigns/{cid}/recommendations", json={"budget": 300}, headers=auth(key)
        ).json()
        assert rec["tracking_run_id"] is None  # the answer did not wait for MLflow
        deadline = time.monotonic() + 120
        run_id = None
        while run_id is None and time.monotonic() < deadline:
            time.sleep(0.5)
            run_id = client.get(f"/v1/recommendations/{rec['id']}", headers=auth(key)).json()[
                "tracking_run_id"
            ]
    assert run_id is not None, "the background logger never wrote the run id back"
    runs = experiments.Tracker("adbandit-recommendations", uri=uri, root=tmp_path).runs()
    run = runs.set_index("run_id").loc[run_id]
    assert run["tags.recommendation_id"] == str(rec["id"])
    assert float(run["metrics.n_arms"]) == 3
    assert run["params.budget"] == "300.0"


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: MLflow at its worst."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_hanging_mlflow_never_holds_a_request(
    black_hole: str, db: Database, keys: dict[str, str]
) -> None:
    settings = Settings(database_url=db.url, tracking=True, tracking_uri=black_hole)
    statuses: list[int] = []
    with TestClient(create_app(settings)) as client:
        key = keys["automation"]
        cid = _seed_campaign(client, key)

        def ask() -> None:
            for _ in range(3):
                r = client.post(
                    f"/v1/campaigns/{cid}/recommendations", json={"budget": 300}, headers=auth(key)
                )
                statuses.append(r.status_code)

        worker = threading.Thread(target=ask, daemon=True)
        worker.start()
        # MLflow's client would wait 120 s per call on this server; the requests must not.
        worker.join(timeout=60)
        assert not worker.is_alive(), "a request waited on MLflow"
        assert statuses == [201, 201, 201]
        listed = client.get(f"/v1/campaigns/{cid}/recommendations", headers=auth(key)).json()
        assert len(listed) == 3
