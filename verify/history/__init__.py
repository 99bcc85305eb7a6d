"""``history``: the catalog entries of a library across its releases, and when each
deviation appeared and disappeared.

The steps, one module each:

- :mod:`~verify.history.releases`: the releases the index serves to this Python,
  narrowed by ``--versions``; the latest patch of each minor release to start with.
- :mod:`~verify.history.install`: each release in its own cached directory
  (``pip install --target``), over the running environment, which is never changed.
- :mod:`~verify.history.runner`: the entries run in child processes that import the
  release.
- :mod:`~verify.history.bisect`: more releases between neighbours whose verdicts differ.
- :mod:`~verify.history.summary`: the changes, exact or not, confounded or not.

:func:`run_history` does them in order and returns a :class:`History`. The releases of a
round (the starting ones, then each bisection round's middles) are units of the executor
(:mod:`verify.execute`), one per release (:func:`install_and_run`): side by side on an
embedded Dask cluster, or on an existing cluster's workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from verify.history.bisect import explore_rounds
from verify.history.install import Installed, directory_bytes, install_release
from verify.history.releases import (
    IndexOptions,
    IndexUnavailable,
    Selection,
    available_releases,
    in_selection,
    starting_releases,
)
from verify.history.runner import Plan, run_release
from verify.history.summary import Change, Release, changes, deviation_id, deviations

__all__ = ["LIBRARIES", "History", "IndexOptions", "IndexUnavailable", "Library", "Plan",
           "Selection", "default_cache", "run_history"]


@dataclass(frozen=True)
class Library:
    """How a library's releases are installed and imported."""

    requirement: str
    """What pip installs, with the extras that make it work here (``mlx[cpu]``)."""
    module: str
    """What a probe imports."""
    own: tuple[str, ...] = ()
    """Its companion distributions, which move with it (``jaxlib``)."""


LIBRARIES: dict[str, Library] = {
    "torch": Library("torch", "torch"),
    "jax": Library("jax[cpu]", "jax", ("jaxlib",)),
    "flax": Library("flax", "flax"),
    "keras": Library("keras", "keras"),
    "mlx": Library("mlx[cpu]", "mlx.core", ("mlx-cpu", "mlx-metal")),
    "sklearn": Library("scikit-learn", "sklearn"),
    "transformers": Library("transformers", "transformers"),
    "tf_keras": Library("tf-keras", "tf_keras"),
    "equinox": Library("equinox", "equinox"),
    "haiku": Library("dm-haiku", "haiku"),
    "tinygrad": Library("tinygrad", "tinygrad"),
    "paddle": Library("paddlepaddle", "paddle"),
}
"""The distribution behind each catalog library whose name is not its distribution's."""


def library(name: str) -> Library:
    return LIBRARIES.get(name, Library(name, name))


def default_cache() -> Path:
    """``$VERIFY_HISTORY_CACHE``, else ``~/.cache/initverify/history`` (under
    ``$XDG_CACHE_HOME`` where it is set)."""
    if os.environ.get("VERIFY_HISTORY_CACHE"):
        return Path(os.environ["VERIFY_HISTORY_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "initverify" / "history"


@dataclass(kw_only=True)
class History:
    """The releases tried and what changed between them."""

    plan: Plan
    selection: Selection
    candidates: list[Version]
    """The releases on the index that the selection covers (what bisection may try)."""
    releases: list[Release]
    not_bisected: list[list[Version]] = field(default_factory=list)
    left_out: list[Version] = field(default_factory=list)
    """Starting releases left out by ``--max-releases`` (the oldest)."""
    cache: Path
    seconds: float = 0.0

    @property
    def changes(self) -> list[Change]:
        return changes(self.releases, self.candidates)

    @property
    def installed_bytes(self) -> int:
        """Bytes of the release directories this run installed (not found cached)."""
        return sum(r.installed.bytes for r in self.releases if not r.installed.cached)

    @property
    def cache_bytes(self) -> int:
        return directory_bytes(self.cache) if self.cache.exists() else 0

    def deviation_table(self) -> list[dict]:
        """Each deviation, with the releases where it was present, absent and unknown."""
        rows = []
        for entry, key in deviations(self.releases):
            states: dict[str, list[str]] = {"present_in": [], "absent_in": [],
                                            "unknown_in": []}
            for release in self.releases:
                state = release.state(entry, key)
                name = {True: "present_in", False: "absent_in", None: "unknown_in"}[state]
                states[name].append(str(release.version))
            rows.append({"deviation": deviation_id(entry, key), "entry": entry, **states})
        return rows

    def to_dict(self) -> dict:
        return {
            "library": self.plan.library, "distribution": self.plan.distribution,
            "mode": self.plan.mode,
            "entries": list(self.plan.entries) or sorted(
                {name for r in self.releases for name in r.outcomes}),
            "examples": self.plan.examples,
            "selection": self.selection.describe(),
            "candidates": [str(v) for v in self.candidates],
            "releases": [r.to_dict() for r in self.releases],
            "changes": [c.to_dict() for c in self.changes],
            "deviations": self.deviation_table(),
            "not_bisected": [[str(v) for v in gap] for gap in self.not_bisected],
            "left_out": [str(v) for v in self.left_out],
            "cache": str(self.cache), "installed_bytes": self.installed_bytes,
            "cache_bytes": self.cache_bytes, "seconds": round(self.seconds, 2),
        }

    def table(self) -> str:
        from verify.history.render import render

        return render(self)


def run_history(plan: Plan, *, selection: Selection, index: IndexOptions,
                cache: Path | None = None, bisect: bool = True, max_releases: int = 30,
                progress: Callable[[str], None] = lambda text: None,
                available: Sequence[Version] | None = None, executor=None,
                store=None) -> History:
    """Run ``plan`` on the selected releases of its library, then bisect.

    ``max_releases`` caps the starting releases (the newest are kept) and, separately, the
    releases bisection adds.

    The releases of a round (the starting ones, then each round's middles) are units of
    ``executor`` (a :class:`verify.execute.Options`; default: in this process), one per
    release (:func:`install_and_run`), streamed into ``store`` (a
    :class:`verify.execute.store.Store`, or None). ``cache`` is where each host installs
    the releases: None is each host's own :func:`default_cache`.

    ``available`` is the index's list of releases when the caller already has it (else it
    is asked for). Raises :class:`IndexUnavailable` when the index has no release."""
    from verify.execute import Options, Unit, run_units, session
    from verify.execute.units import history_unit

    started = time.monotonic()
    executor = executor if executor is not None else Options(workers=0)
    if available is None:
        available = available_releases(plan.requirement, index)
    candidates = in_selection(available, selection)
    every = starting_releases(candidates, selection)
    start, left_out = every[-max_releases:], every[:-max_releases]
    if left_out:
        progress(f"--max-releases {max_releases}: leaving out the older starting releases "
                 f"{left_out[0]} .. {left_out[-1]} ({len(left_out)})")
    counter = iter(range(1, 10**9))
    arguments = {"plan": plan.to_record(), "index": index.to_record(),
                 "cache": None if cache is None else str(cache)}

    def evaluate_round(versions: list[Version], chosen: str) -> list[Release]:
        keys = {f"{plan.distribution} {version}": version for version in versions}
        numbers = {version: next(counter) for version in versions}
        units = [Unit(key, history_unit, {**arguments, "version": str(version)})
                 for key, version in keys.items()]
        releases: dict[Version, Release] = {}

        def finished(record) -> None:  # as each release ends, wherever it ran
            version = keys[record.key]
            if record.status == "done":
                release = Release.from_record({**record.result, "chosen": chosen})
            else:
                release = Release(version=version, chosen=chosen, error=record.error,
                                  installed=Installed(version=str(version), path=None))
            releases[version] = release
            progress(f"{plan.distribution} {version} ({chosen}, #{numbers[version]}): "
                     f"{describe(release)}")

        run_units(units, executor, store=store, progress=progress, finished=finished,
                  last=False)
        return [releases[version] for version in versions]

    with session(executor):  # one cluster for every round
        releases, left = explore_rounds(start, candidates, evaluate_round,
                                        chosen="explicit" if selection.explicit else "minor",
                                        bisect=bisect, budget=len(start) + max_releases)
    if store is not None:  # every round done: the run's manifest counts all of them
        store.mark("complete", units=len(releases),
                   errors=sum(bool(r.error) for r in releases))
    return History(plan=plan, selection=selection, candidates=list(candidates),
                   releases=releases, not_bisected=left, left_out=left_out,
                   cache=cache if cache is not None else default_cache(),
                   seconds=time.monotonic() - started)


def install_and_run(plan: Plan, version: str, *, cache: Path | None,
                    index: IndexOptions) -> Release:
    """Install release ``version`` into ``cache`` (None: this host's :func:`default_cache`),
    or find it there, and run ``plan`` on it; its ``chosen`` is left for the caller."""
    begun = time.monotonic()
    installed = install_release(plan.requirement, version, own=frozenset(plan.own),
                                cache=cache if cache is not None else default_cache(),
                                index=index)
    ran = run_release(plan, installed.path) if installed.ok else None
    return Release(version=Version(version), chosen="", installed=installed, ran=ran,
                   seconds=time.monotonic() - begun)


def describe(release: Release) -> str:
    """How a release went: its install (cached, or how big and how long, the pins it
    moved), what its run gave, and its time."""
    if release.status in ("install failed", "error"):
        return f"{release.status}: {release.reason}"
    installed = release.installed
    where = "cached" if installed.cached else \
        f"installed {megabytes(installed.bytes)} in {installed.seconds:.0f} s"
    pins = ", ".join(f"{n}=={v}" for n, v in installed.pins.items())
    return (where + (f", pins moved: {pins}" if pins else "")
            + f"; {summary_of(release)} ({release.seconds:.0f} s)")


def megabytes(count: int) -> str:
    return f"{count / 1e6:.0f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"


def summary_of(release: Release) -> str:
    """``3 pass, 1 fail``, or the status and reason of a release that did not run."""
    if release.status != "ran":
        return f"{release.status}: {release.reason}"
    counts: dict[str, int] = {}
    for outcome in release.outcomes.values():
        counts[outcome.verdict] = counts.get(outcome.verdict, 0) + 1
    return ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())) or "no entry"
