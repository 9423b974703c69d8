"""Where parallel work runs: a Dask cluster (the one module that imports dask.distributed).

By default a LocalCluster on this machine (``workers`` processes, one thread each, since
the work is CPU-bound Python); a scheduler address (``tcp://host:8786``) sends the same
tasks to a cluster instead. Workers must be able to import adbandit (same version).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["dask_client", "run_tasks"]


@contextmanager
def dask_client(
    scheduler: str | None = None, workers: int = 2, memory_limit: str | None = "auto"
) -> Iterator[Any]:
    """A ``distributed.Client``: connected to ``scheduler``, or to a LocalCluster of
    ``workers`` single-threaded processes that is shut down on exit."""
    from distributed import Client, LocalCluster

    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "bokeh"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: never clashes with another cluster
            memory_limit=memory_limit,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_tasks(
    task: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    scheduler: str | None = None,
    workers: int = 2,
) -> Iterator[tuple[int, Any]]:
    """``(index, task(item))`` for every item, in the order they finish, computed on Dask."""
    from distributed import as_completed

    with dask_client(scheduler, workers) as client:
        futures = client.map(task, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            yield index[future.key], future.result()
