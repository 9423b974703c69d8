"""End to end against a real uvicorn on a loopback port, driven with httpx; and crash
safety: ``kill -9`` in the middle of a large ingest leaves all of the batch or none."""

from __future__ import annotations

import io
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO
from tests.server import make_key, uvicorn_server

SAMPLE = Path(REPO, "data", "sample_stats.csv")
CURRENT = Path(REPO, "data", "sample_current.csv")


def test_a_day_of_work_over_http(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'adbandit.db'}"
    bot = {"Authorization": f"Bearer {make_key(url, 'automation', 'nightly-bot', capsys)}"}
    ana = {"Authorization": f"Bearer {make_key(url, 'specialist', 'ana', capsys)}"}
    with (
        uvicorn_server(url, tmp_path / "server.log") as (base, _),
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        assert http.get("/readyz").json()["status"] == "ok"
        cid = http.post("/v1/campaigns", json={"name": "autumn_sale"}, headers=bot).json()["id"]
        with open(SAMPLE, "rb") as f:
            r = http.post(f"/v1/campaigns/{cid}/stats", files={"file": ("s.csv", f)}, headers=bot)
        assert r.json()["n_inserted"] == 336
        current = pd.read_csv(CURRENT).to_dict("records")
        r = http.post(
            f"/v1/campaigns/{cid}/recommendations",
            json={"budget": 1200, "current": current, "seed": 7},
            headers=bot,
        )
        assert r.status_code == 201, r.text
        rec = r.json()
        assert sum(a["budget"] for a in rec["allocations"]) == pytest.approx(1200, abs=0.01)
        assert http.post(f"/v1/recommendations/{rec['id']}/approve", headers=bot).status_code == 200
        # automation may decide too (roles include the ones below); a second decision conflicts
        again = http.post(f"/v1/recommendations/{rec['id']}/approve", headers=ana)
        assert again.status_code == 409 and "'nightly-bot'" in again.json()["detail"]
        split = pd.read_csv(
            io.StringIO(http.get(f"/v1/recommendations/{rec['id']}/split.csv", headers=ana).text)
        )
        want = pd.DataFrame(rec["allocations"])[["creative", "audience", "budget"]]
        pd.testing.assert_frame_equal(split, want, check_dtype=False)


def big_batch(n_arms: int, n_days: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2026-01-01", periods=n_days).strftime("%Y-%m-%d")
    frame = pd.DataFrame(
        {
            "date": np.repeat(days, n_arms),
            "creative": np.tile([f"cr{i % 50}" for i in range(n_arms)], n_days),
            "audience": np.tile([f"au{i // 50}" for i in range(n_arms)], n_days),
            "impressions": 10_000,
            "clicks": rng.integers(50, 300, n_arms * n_days),
            "spend": rng.uniform(5, 50, n_arms * n_days).round(2),
            "conversions": rng.integers(0, 10, n_arms * n_days),
        }
    )
    return frame.to_csv(index=False).encode()


def stored_rows(db_file: Path) -> int:
    with sqlite3.connect(db_file) as c:  # opening runs SQLite's WAL recovery, as a restart would
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return int(c.execute("SELECT count(*) FROM stats").fetchone()[0])


@pytest.mark.slow
def test_kill_during_a_large_ingest_leaves_all_or_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = tmp_path / "adbandit.db"
    url = f"sqlite:///{db_file}"
    key = {"Authorization": f"Bearer {make_key(url, 'automation', 'bot', capsys)}"}
    n_arms, n_days = 2000, 100  # 200,000 rows, about 9 MB of CSV
    batch = big_batch(n_arms, n_days)
    wal = Path(f"{db_file}-wal")
    with uvicorn_server(url, tmp_path / "server.log") as (base, proc):
        with httpx.Client(base_url=base, timeout=120) as http:
            cid = http.post("/v1/campaigns", json={"name": "big"}, headers=key).json()["id"]
            small = big_batch(3, 2, seed=1)
            r = http.post(
                f"/v1/campaigns/{cid}/stats", files={"file": ("a.csv", small)}, headers=key
            )
            assert r.json()["n_rows"] == 6
        baseline_wal = wal.stat().st_size
        client = subprocess.Popen(  # the large upload, from another process so we can kill mid-way
            [
                sys.executable,
                "-c",
                "import sys, httpx; httpx.post(sys.argv[1], files={'file': ('big.csv', "
                "open(sys.argv[2], 'rb'))}, headers={'Authorization': sys.argv[3]}, timeout=300)",
                f"{base}/v1/campaigns/{cid}/stats",
                str(_write(tmp_path / "big.csv", batch)),
                key["Authorization"],
            ],
            stderr=subprocess.DEVNULL,
        )
        # The transaction is under way once its pages spill into the write-ahead log.
        deadline = time.monotonic() + 120
        while wal.stat().st_size < baseline_wal + 4_000_000:
            assert time.monotonic() < deadline, "the ingest never started writing"
            assert proc.poll() is None
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        client.wait(60)
    assert stored_rows(db_file) == 6, "a killed ingest left part of its batch behind"

    # After a restart the same batch goes in whole (its first 6 rows restate the small
    # batch's), and re-sending it inserts nothing new.
    with (
        uvicorn_server(url, tmp_path / "server2.log") as (base, _),
        httpx.Client(base_url=base, timeout=300) as http,
    ):
        for expected_new in (n_arms * n_days - 6, 0):
            r = http.post(
                f"/v1/campaigns/{cid}/stats", files={"file": ("big.csv", batch)}, headers=key
            )
            assert r.status_code == 200, r.text
            assert r.json()["n_inserted"] == expected_new
    assert stored_rows(db_file) == n_arms * n_days


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path
