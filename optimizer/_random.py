"""One place that turns a user's ``seed`` into a numpy Generator."""

from __future__ import annotations

import numpy as np

Seed = int | np.random.Generator | None


def as_generator(seed: Seed) -> np.random.Generator:
    """Return a Generator for ``seed``; never touches numpy's global state.

    A Generator passed in is used as is (the caller threads its stream through);
    an int or None seeds a fresh PCG64.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise TypeError(
            f"seed must be an int, a numpy Generator or None, got {type(seed).__name__}"
        )
    return np.random.default_rng(seed)
