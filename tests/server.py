"""A real ``adbandit serve`` on a loopback port, for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from service.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_key(url: str, role: str, name: str, capsys: object) -> str:
    """A key from ``adbandit keys create`` (its only stdout line), read through capsys."""
    assert main(["keys", "create", "--role", role, "--name", name, "--database-url", url]) == 0
    out: str = capsys.readouterr().out  # type: ignore[attr-defined]
    return out.strip()


@contextmanager
def uvicorn_server(
    url: str, log: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``adbandit serve [args]`` as a child process; yields its base URL once /healthz
    answers."""
    port = free_port()
    env = {**os.environ, "ADBANDIT_DATABASE_URL": url, "ADBANDIT_TRACKING": "false", **(env or {})}
    cmd = [sys.executable, "-c", "from service.cli import main; raise SystemExit(main())"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*cmd, "serve", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


def wait_until_up(
    base: str, proc: subprocess.Popen[bytes], log: Path, path: str = "/healthz"
) -> None:
    """Poll ``path`` until it answers 200; the server's log in the error if it never does."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}{path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start:\n{log.read_text()}")
        time.sleep(0.2)
