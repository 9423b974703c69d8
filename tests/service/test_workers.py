"""``adbandit serve --workers 2`` as a real process tree: connections opened together
spread over both workers, a dead worker is replaced, SIGTERM stops everything, and a
second server on the same port is refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from service import workers
from tests.server import uvicorn_server

pytestmark = pytest.mark.skipif(not workers.balanced(), reason="SO_REUSEPORT balancing is Linux")


def _workers(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The server's worker processes (children that listen on a TCP port)."""
    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if any(c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def _wait(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def test_connections_spread_a_dead_worker_is_replaced_sigterm_stops_all(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    log = tmp_path / "serve.log"
    with uvicorn_server(url, log, args=("--workers", "2")) as (base, proc):
        _wait(lambda: len(_workers(proc)) == 2, "both workers listen")
        port = int(base.rsplit(":", 1)[1])
        # 16 clients open their keep-alive connections at once, as a pool would: all are
        # connected (queued by the kernel) before a worker accepts any. With one shared
        # socket the first worker to wake took them all; per-worker sockets spread them
        # (all 16 on one of two by chance: 2 in 65,536).
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            for conn in conns:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            for conn in conns:
                assert conn.recv(4096).startswith(b"HTTP/1.1 200"), "no answer"
            per_worker = {
                w.pid: sum(
                    c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                    for c in w.net_connections("tcp")
                )
                for w in _workers(proc)
            }
            assert sum(per_worker.values()) == 16 and min(per_worker.values()) >= 1, per_worker
        finally:
            for conn in conns:
                conn.close()

        # A worker that dies is replaced, and the server keeps answering meanwhile.
        victim = _workers(proc)[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        _wait(
            lambda: len(_workers(proc)) == 2 and victim.pid not in {w.pid for w in _workers(proc)},
            "a new worker replaces the killed one",
        )
        for _ in range(20):
            assert httpx.get(f"{base}/healthz").status_code == 200
        assert "died (exit -9); starting another" in log.read_text()

        # A second server on the same port is refused (SO_REUSEPORT would let it share).
        second = subprocess.run(
            [
                sys.executable,
                "-c",
                "from service.cli import main; raise SystemExit(main())",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env={**os.environ, "ADBANDIT_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert f"error: cannot listen on 127.0.0.1:{port}" in second.stderr

        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        gone, alive = psutil.wait_procs(tree, timeout=10)
        assert alive == [], alive
