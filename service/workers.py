"""``adbandit serve --workers N``: N uvicorn processes, each on its own listening socket.

uvicorn's own ``--workers`` shares one listening socket between the processes, and
asyncio accepts every waiting connection in one go: clients that open their
keep-alive connections together (a connection pool, a proxy) all land on the worker
that woke first while the others idle. Measured with the load benchmark: 9 of 9
connections on one of two workers. Here each worker binds its own socket with
``SO_REUSEPORT`` and the kernel spreads new connections over them.

The parent checks the port is free first (so a second server on the same port fails
instead of silently sharing it), starts the workers, replaces one that dies, and on
SIGINT/SIGTERM asks all to finish their requests and stop.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import socket
import sys
import threading
from typing import Any

__all__ = ["PortInUseError", "balanced", "serve_workers"]

log = logging.getLogger("adbandit.workers")

STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start


class PortInUseError(RuntimeError):
    """Something already listens on the address."""


def balanced() -> bool:
    """Whether this system can spread connections over per-worker sockets (Linux)."""
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_address(host: str, port: int, workers: int = 1) -> None:
    """Raise ValueError for port 0 with several workers (each would get its own port)
    and PortInUseError unless ``host:port`` can be bound by a plain socket."""
    if workers > 1 and port == 0:
        raise ValueError("--workers needs a fixed --port: each worker binds the same one")
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as exc:
        raise PortInUseError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    finally:
        probe.close()


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    # The socket lives and dies with this process: a dead worker leaves no listener
    # behind that would take its share of connections and never answer them.
    sock = _listen(host, port)
    server = uvicorn.Server(uvicorn.Config(host=host, port=port, **options))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def serve_workers(host: str, port: int, workers: int, **options: Any) -> int:
    """Run ``workers`` uvicorn processes on ``host:port`` until SIGINT/SIGTERM.

    ``options`` go to ``uvicorn.Config`` (``app``, ``factory``, ``log_level`` ...).
    Returns 0 after a requested stop, 1 when a worker could not start.
    """
    check_address(host, port, workers)
    context = mp.get_context("spawn")
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def start() -> Any:
        process = context.Process(
            target=_worker, args=(host, port, options), name="adbandit-worker"
        )
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    status = 0
    try:
        while not stop.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("worker %d could not start; stopping the server", process.pid)
                    status = 1
                    stop.set()
                    break
                log.warning(
                    "worker %d died (exit %s); starting another", process.pid, process.exitcode
                )
                processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
