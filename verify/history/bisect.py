"""Which releases to try: the starting ones, then bisection between neighbours whose
verdicts differ.

After the starting releases have run, every change of a deviation between two tried
releases that have untried releases between them is a *gap*. Each round tries the middle
untried release of every gap; the gap then splits into two, one of which holds the change
(or both, when two changes lay in one gap). A release that cannot be measured is tried
like any other and only narrows the gap by itself. The rounds end when no gap is left, or
when ``budget`` releases have been tried: the gaps left are returned, for the summary to
say that those changes were not bisected.

The releases of one round do not depend on each other: :func:`explore_rounds` hands a
whole round to its caller, which runs them side by side (on the executor,
:mod:`verify.execute`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from packaging.version import Version

from verify.history.summary import Release, gaps


def explore(start: Sequence[Version], candidates: Sequence[Version],
            evaluate: Callable[[Version, str], Release], *, chosen: str, bisect: bool = True,
            budget: int | None = None) -> tuple[list[Release], list[list[Version]]]:
    """Try ``start`` (each labelled ``chosen``), then bisect over ``candidates``.

    ``evaluate(version, chosen)`` installs and runs one release. Returns the releases tried,
    oldest first, and the gaps left untried (empty unless the budget ran out or
    ``bisect`` is off)."""
    return explore_rounds(start, candidates,
                          lambda versions, label: [evaluate(v, label) for v in versions],
                          chosen=chosen, bisect=bisect, budget=budget)


def explore_rounds(start: Sequence[Version], candidates: Sequence[Version],
                   evaluate_round: Callable[[list[Version], str], list[Release]], *,
                   chosen: str, bisect: bool = True,
                   budget: int | None = None) -> tuple[list[Release], list[list[Version]]]:
    """:func:`explore`, a round at a time: ``evaluate_round(versions, chosen)`` installs
    and runs the releases of one round (the starting ones, then each round's middles),
    which do not depend on each other, and returns their releases in the order given."""
    tried: dict[Version, Release] = {}
    limit = budget if budget is not None else len(set(start) | set(candidates))
    first = sorted(start)
    for version, release in zip(first, evaluate_round(first, chosen), strict=True):
        tried[version] = release
    while True:
        left = gaps(list(tried.values()), candidates)
        if not bisect or not left or len(tried) >= limit:
            break
        middles = sorted({gap[len(gap) // 2] for gap in left})[:limit - len(tried)]
        for version, release in zip(middles, evaluate_round(middles, "bisect"), strict=True):
            tried[version] = release
    return sorted(tried.values(), key=lambda r: r.version), left
