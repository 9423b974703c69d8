"""``adbandit keys``, ``adbandit db`` and ``adbandit serve --load`` (what ``make run`` does)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.cli import main
from tests.conftest import REPO
from tests.server import free_port


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    code, out, err = run(
        capsys, "keys", "create", "--role", "viewer", "--name", "dash", "--database-url", url
    )
    assert code == 0 and out.startswith("adb_") and "shown only now" in err
    key = out.strip()
    code, out, _ = run(capsys, "keys", "list", "--database-url", url)
    assert code == 0 and "dash" in out and "viewer" in out and key not in out
    code, _, err = run(
        capsys, "keys", "create", "--role", "admin", "--name", "dash", "--database-url", url
    )
    assert code == 2 and "a key named 'dash' already exists" in err
    assert (
        run(capsys, "keys", "revoke", "1", "--database-url", url)[1]
        == "revoked key 'dash' (id 1)\n"
    )
    code, _, err = run(capsys, "keys", "revoke", "9", "--database-url", url)
    assert code == 2 and "no API key with id 9" in err


def test_db_upgrade_and_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert run(capsys, "db", "upgrade", "--revision", "0001", "--database-url", url)[1].endswith(
        ": empty -> 0001\n"
    )
    assert "0001 (newest: 0005)" in run(capsys, "db", "current", "--database-url", url)[1]
    assert run(capsys, "db", "upgrade", "--database-url", url)[1].endswith(": 0001 -> 0005\n")


def test_serve_load_prints_urls_and_a_working_key(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ADBANDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
        "ADBANDIT_TRACKING": "0",
    }
    cmd = [sys.executable, "-c", "from service.cli import main; raise SystemExit(main())"]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*cmd, "serve", "--load", f"{REPO}/data/sample_stats.csv", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "Uvicorn running" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        assert "loaded" in text and "336 rows into campaign 'autumn_sale'" in text
        assert f"http://127.0.0.1:{port}/docs" in text
        key = next(line.split()[-1] for line in text.splitlines() if "admin API key" in line)
        r = httpx.get(
            f"http://127.0.0.1:{port}/v1/campaigns", headers={"Authorization": f"Bearer {key}"}
        )
        assert [c["name"] for c in r.json()] == ["autumn_sale"]
        assert r.json()[0]["n_stats_rows"] == 336
    finally:
        proc.terminate()
        proc.wait(20)
