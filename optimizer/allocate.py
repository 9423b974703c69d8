"""Turn P(best) into a budget split that honours every constraint, to the cent.

Order of operations (all money in the campaign's currency):

1. Locked arms keep their current spend; the rest of the budget is *free*.
2. Free arms' target: ``free * (floor + (1 - m * floor) * w_i)`` with ``w`` the
   P(best) of the free arms renormalised, ``m`` their number, and the floor cut to
   ``max_floor_total / m`` when ``m * floor`` would exceed ``max_floor_total``.
3. Bounds per arm: ``[min_spend, max_spend]`` and, with a current split and
   ``max_change = d``, ``[c_i (1 - d), c_i (1 + d)]`` where ``c`` is the current
   split of the free arms rescaled to the free budget (so a budget change is
   shared pro rata). An arm with no current spend may rise to ``d * free / m``.
4. The targets are moved into the bounds keeping the total: the part above the
   floor is scaled by one common factor, ``x_i = clip(base + mu * w_i, lo_i,
   hi_i)``. Arms that hit their upper bound are then fixed there and the rest of
   the budget is split again by P(best) *among the arms still open* (``weights_for``),
   round after round: when the best arm is capped, its surplus goes to the best of
   the others, not evenly to arms that are almost surely worse.
5. Rounded to cents by largest remainder: the spends sum to the budget exactly.

Anything that cannot hold raises :class:`AllocationError` naming the constraint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import AllocationError

__all__ = ["Allocation", "allocate_budget"]

#: Labels of the constraint that decided an arm's spend ("" = none, P(best) did).
BINDING = ("", "locked", "floor", "min_spend", "max_spend", "change_cap", "guardrail")


@dataclass(frozen=True)
class Allocation:
    """Spend per arm (money, whole cents) and the constraint that bound each arm."""

    spend: np.ndarray
    binding: np.ndarray  # str labels from BINDING
    floor_share: float  # the per-arm floor actually used, as a share of the free budget
    weight: np.ndarray  # the P(best) each arm was allocated by (among the arms still open)
    round: np.ndarray  # 0 = first split; k = after k rounds of fixing capped arms


def allocate_budget(
    p_best: np.ndarray,
    budget: float,
    *,
    current: np.ndarray | None = None,
    min_spend: np.ndarray | None = None,
    max_spend: np.ndarray | None = None,
    locked: np.ndarray | None = None,
    floor: float = 0.0,
    max_floor_total: float = 1.0,
    max_change: float | None = None,
    names: list[str] | None = None,
    weights_for: Callable[[np.ndarray], np.ndarray] | None = None,
    guarded: np.ndarray | None = None,
) -> Allocation:
    """Split ``budget`` across arms in proportion to ``p_best`` under constraints.

    Parameters
    ----------
    p_best : array (n_arms,)
        Non-negative weights (P(best)); they need not sum to 1 among free arms.
    budget : float
        Total to split, > 0; rounded to cents.
    current : array (n_arms,), optional
        Current spend per arm; needed for ``locked`` and ``max_change``.
    min_spend, max_spend : arrays (n_arms,), optional
        Money bounds per arm (``max_spend`` may hold ``inf``).
    locked : bool array (n_arms,), optional
        Arms that keep their current spend exactly.
    names : list of str, optional
        Arm labels used in error messages.
    weights_for : callable, optional
        ``weights_for(idx)`` gives P(best) among the arms ``idx`` only; used after
        capped arms are fixed. Default: ``p_best[idx]`` renormalised.
    guarded : bool array (n_arms,), optional
        Arms a guardrail holds to at most their exploration floor.

    Examples
    --------
    >>> a = allocate_budget(np.array([0.7, 0.2, 0.1]), 100.0, floor=0.05)
    >>> a.spend.tolist()
    [64.5, 22.0, 13.5]
    """
    p_best = np.asarray(p_best, dtype=float)
    n = p_best.size
    names = names or [f"arm {i}" for i in range(n)]
    if not np.isfinite(budget) or budget <= 0:
        raise AllocationError(f"budget ({budget}) must be a positive finite amount")
    total_cents = int(round(budget * 100))
    min_spend = np.zeros(n) if min_spend is None else np.asarray(min_spend, dtype=float)
    max_spend = np.full(n, np.inf) if max_spend is None else np.asarray(max_spend, dtype=float)
    locked = np.zeros(n, bool) if locked is None else np.asarray(locked, dtype=bool)
    if locked.any() and current is None:
        raise AllocationError("locked arms need a current split to keep")

    spend_cents = np.zeros(n, dtype=np.int64)
    binding = np.full(n, "", dtype=object)
    if locked.any():
        assert current is not None
        spend_cents[locked] = np.round(current[locked] * 100).astype(np.int64)
        binding[locked] = "locked"
    locked_cents = int(spend_cents[locked].sum())
    free_cents = total_cents - locked_cents
    free = np.flatnonzero(~locked)
    if free_cents < 0:
        raise AllocationError(
            f"locked arms keep {locked_cents / 100:.2f}, more than the budget {budget:.2f}"
        )
    if free.size == 0:
        if free_cents != 0:
            raise AllocationError(
                f"every arm is locked: their current spend ({locked_cents / 100:.2f}) "
                f"must equal the budget ({total_cents / 100:.2f})"
            )
        return Allocation(spend_cents / 100.0, binding, 0.0, np.zeros(n), np.zeros(n, int))

    m = free.size
    free_budget = free_cents / 100.0
    floor_share = min(floor, max_floor_total / m)
    base = np.full(m, free_budget * floor_share)
    scale = (1.0 - m * floor_share) * free_budget

    lo = np.maximum(min_spend[free], 0.0)
    hi = max_spend[free].copy()
    lo_src = np.where(min_spend[free] > 0, "min_spend", "")
    hi_src = np.full(m, "max_spend", dtype=object)
    if max_change is not None and current is not None:
        cur = np.asarray(current, dtype=float)[free]
        scaled = cur * (free_budget / cur.sum()) if cur.sum() > 0 else np.full(m, free_budget / m)
        cap_lo = scaled * (1.0 - max_change)
        cap_hi = np.where(scaled > 0, scaled * (1.0 + max_change), max_change * free_budget / m)
        lo_src = np.where(cap_lo > lo, "change_cap", lo_src)
        hi_src = np.where(cap_hi < hi, "change_cap", hi_src)
        lo = np.maximum(lo, cap_lo)
        hi = np.minimum(hi, cap_hi)
    if guarded is not None and np.asarray(guarded)[free].any():
        g = np.asarray(guarded, dtype=bool)[free]
        hi_src = np.where(g & (base < hi), "guardrail", hi_src)
        hi = np.where(g, np.minimum(hi, base), hi)
    _check_feasible(lo, hi, lo_src, hi_src, free_budget, [names[i] for i in free])

    def default_weights(idx: np.ndarray) -> np.ndarray:
        return p_best[idx]

    weights_for = weights_for or default_weights
    x = np.zeros(m)
    weight = np.zeros(m)
    round_of = np.zeros(m, dtype=int)
    open_ = np.arange(m)
    remaining = free_budget
    for r in range(m):
        w = np.asarray(weights_for(free[open_]), dtype=float)
        w = w / w.sum() if w.sum() > 0 else np.full(open_.size, 1.0 / open_.size)
        x_open, capped = _fit_total(base[open_], w, scale, lo[open_], hi[open_], remaining)
        x[open_], weight[open_], round_of[open_] = x_open, w, r
        if not capped.any() or capped.all():
            break
        # Fix the capped arms at their upper bound; split the rest among the others.
        # When the common factor had to grow far past the money left, arms of
        # negligible weight get capped too; fix first the arms whose plain share of the
        # money left already exceeds their cap, so the next round ranks the rest by
        # P(best) among themselves.
        plain = base[open_] + (remaining - base[open_].sum()) * w
        by_weight = capped & (plain > hi[open_] + 1e-9)
        if by_weight.any():
            capped = by_weight
        remaining -= float(hi[open_[capped]].sum())
        open_ = open_[~capped]
    spend_cents[free] = _round_cents(x, lo, hi, free_cents)

    spend_free = spend_cents[free] / 100.0
    at_hi = np.isfinite(hi) & (spend_free >= np.floor(hi * 100) / 100 - 0.005)
    at_lo = (lo > 0) & (spend_free <= np.ceil(lo * 100) / 100 + 0.005)
    at_floor = (floor_share > 0) & (np.abs(spend_free - base) <= 0.011)
    label = np.full(m, "", dtype=object)
    label[at_floor & ~at_lo & ~at_hi] = "floor"
    label[at_lo] = np.where(lo_src[at_lo] != "", lo_src[at_lo], hi_src[at_lo])
    label[at_hi & ~at_lo] = hi_src[at_hi & ~at_lo]
    binding[free] = label
    full_weight = np.zeros(n)
    full_weight[free] = weight
    full_round = np.zeros(n, dtype=int)
    full_round[free] = round_of
    return Allocation(spend_cents / 100.0, binding, floor_share, full_weight, full_round)


def _check_feasible(
    lo: np.ndarray,
    hi: np.ndarray,
    lo_src: np.ndarray,
    hi_src: np.ndarray,
    free_budget: float,
    names: list[str],
) -> None:
    crossed = np.flatnonzero(lo > hi + 1e-9)
    if crossed.size:
        i = crossed[0]
        what_lo = lo_src[i].replace("_", " ") or "min spend"
        what_hi = hi_src[i].replace("_", " ")
        raise AllocationError(
            f"{names[i]}: {what_lo} needs at least {lo[i]:.2f} but {what_hi} allows at most "
            f"{hi[i]:.2f}"
        )
    if lo.sum() > free_budget + 0.005:
        sources = sorted({s.replace("_", " ") for s in lo_src if s}) or ["min spend"]
        raise AllocationError(
            f"{' and '.join(sources)} need at least {lo.sum():.2f} in total, more than the "
            f"budget to split ({free_budget:.2f})"
        )
    if hi.sum() < free_budget - 0.005:
        sources = sorted({s.replace("_", " ") for s in hi_src})
        raise AllocationError(
            f"{' and '.join(sources)} allow at most {hi.sum():.2f} in total, less than the "
            f"budget to split ({free_budget:.2f})"
        )


def _fit_total(
    base: np.ndarray,
    w: np.ndarray,
    scale: float,
    lo: np.ndarray,
    hi: np.ndarray,
    total: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``sum clip(base + mu * w', lo, hi) = total`` for mu by bisection.

    ``w'`` adds a tiny even part to ``w`` so arms with P(best) = 0 can still absorb
    budget when every other arm is at its upper bound. Returns the spends and a
    mask of the arms held down by their upper bound.
    """
    w_eff = w + 1e-12
    mu = scale
    x = np.clip(base + mu * w_eff, lo, hi)
    if abs(x.sum() - total) > 1e-9 * max(total, 1.0):
        mu_lo = float(np.min((lo - base) / w_eff)) - 1.0
        mu_hi = float(np.max((np.where(np.isfinite(hi), hi, total) + abs(total) - base) / w_eff))
        mu_hi += 1.0
        for _ in range(200):
            mu = 0.5 * (mu_lo + mu_hi)
            if np.clip(base + mu * w_eff, lo, hi).sum() < total:
                mu_lo = mu
            else:
                mu_hi = mu
            if mu_hi - mu_lo <= 1e-15 * max(abs(mu_hi), 1.0):
                break
        mu = mu_hi
        x = np.clip(base + mu * w_eff, lo, hi)
    capped = base + mu * w_eff > hi + 1e-9
    return x, capped


def _round_cents(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, total_cents: int) -> np.ndarray:
    """Whole cents summing to ``total_cents``: floor, then hand out the remainder by
    largest fractional part to arms with room below their upper bound."""
    raw = x * 100.0
    cents = np.floor(raw + 1e-7).astype(np.int64)
    cents = np.maximum(cents, np.ceil(lo * 100 - 1e-7).astype(np.int64))
    room_hi = np.where(np.isfinite(hi), np.floor(hi * 100 + 1e-7), np.inf)
    left = total_cents - int(cents.sum())
    frac = raw - cents
    order = np.argsort(-frac, kind="stable")
    while left != 0:
        step = 1 if left > 0 else -1
        if step > 0:
            eligible = order[cents[order] + 1 <= room_hi[order]]
        else:
            eligible = order[::-1][cents[order[::-1]] - 1 >= np.ceil(lo[order[::-1]] * 100 - 1e-7)]
        if eligible.size == 0:
            raise AllocationError("cannot round the split to cents within the bounds")
        take = eligible[: abs(left)]
        cents[take] += step
        left -= step * take.size
    return cents
