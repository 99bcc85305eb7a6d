"""When each deviation appeared and disappeared, from the releases that were run.

A *deviation* is one entry that does not conform (a catalog entry or a ``--target``
that fails ``check``) or one blocking finding of an audit. At each release it is
*present*, *absent* (the entry was measured and this deviation was not found), or
*unknown* (the release did not install or import, or the entry could not be run there).
Walking the releases in version order over the known states, each change of state is a
:class:`Change`: the deviation appeared at ``release`` (the first bad one) after
``previous`` (the last good one), or disappeared at ``release`` (the first fixed one).

A change is *exact* when no release between the two was left untested (bisection went
all the way), and *confounded* when the two releases differ in more than the library:
some other distribution (a pin the release forced away from the base environment, such
as an old ``numpy`` under an old ``jaxlib``) has another version on the two sides, so the
change cannot be blamed on the library alone. The library's own distributions
(``jaxlib`` for ``jax``) move with it and confound nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from packaging.version import Version

from verify.history.install import Installed, base_version
from verify.history.runner import Outcome, Ran, deviation_id


@dataclass(frozen=True, kw_only=True)
class Release:
    """One release that was tried: how it was chosen (``minor``: the latest patch of its
    minor release; ``explicit``: named by ``--versions``; ``bisect``), its install, and
    what running it gave."""

    version: Version
    chosen: str
    installed: Installed
    ran: Ran | None = None
    seconds: float = 0.0
    error: str = ""
    """Why the release's unit gave no result (its worker died, say), if it did not."""

    @property
    def status(self) -> str:
        """``ran``, ``install failed``, ``import failed`` or ``error``."""
        if self.error:
            return "error"
        if not self.installed.ok:
            return "install failed"
        return self.ran.status if self.ran is not None else "error"

    @property
    def reason(self) -> str:
        if self.error:
            return self.error
        if not self.installed.ok:
            return self.installed.reason
        return self.ran.reason if self.ran is not None else ""

    @property
    def outcomes(self) -> dict[str, Outcome]:
        return self.ran.outcomes if self.ran is not None and self.status == "ran" else {}

    def state(self, entry: str, key: str) -> bool | None:
        """Whether deviation ``key`` of ``entry`` is present here (None: unknown)."""
        outcome = self.outcomes.get(entry)
        if outcome is None or not outcome.known:
            return None
        return key in outcome.deviations

    def version_of(self, distribution: str) -> str | None:
        """The version of ``distribution`` the release ran with: its pin, else the base's."""
        if distribution in self.installed.pins:
            return self.installed.pins[distribution]
        return self.installed.base.get(distribution, base_version(distribution))

    def to_record(self) -> dict:
        """Every field, JSON-ready (a unit's result); :meth:`from_record` reads it back."""
        return {"version": str(self.version), "chosen": self.chosen,
                "installed": self.installed.to_record(),
                "ran": None if self.ran is None else self.ran.to_record(),
                "seconds": self.seconds, "error": self.error}

    @classmethod
    def from_record(cls, record: dict) -> Release:
        ran = record["ran"]
        return cls(version=Version(record["version"]), chosen=record["chosen"],
                   installed=Installed.from_record(record["installed"]),
                   ran=None if ran is None else Ran.from_record(ran),
                   seconds=record["seconds"], error=record["error"])

    def to_dict(self) -> dict:
        fields: dict = {"version": str(self.version), "chosen": self.chosen,
                        "status": self.status}
        if self.reason:
            fields["reason"] = self.reason
        fields["entries"] = {name: o.to_dict(name) for name, o in self.outcomes.items()}
        fields["own"] = self.installed.own
        fields["pins"] = {name: {"version": version, "base": self.installed.base.get(name)}
                          for name, version in self.installed.pins.items()}
        fields.update(cached=self.installed.cached, bytes=self.installed.bytes,
                      install_seconds=round(self.installed.seconds, 2),
                      seconds=round(self.seconds, 2))
        return fields


@dataclass(frozen=True, kw_only=True)
class Change:
    """Deviation ``deviation`` (of ``entry``) ``appeared`` or ``disappeared`` at
    ``release``; ``previous`` is the last release before it with the other state."""

    entry: str
    key: str
    change: str
    release: Version
    previous: Version
    exact: bool
    unknown_between: tuple[tuple[str, str], ...] = ()
    """Releases between the two that were tried and could not be measured: (version,
    why)."""
    moved: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """Other distributions with another version on the two sides: name -> (before,
    after)."""
    detail: str = ""
    """What was measured where the deviation is present."""

    @property
    def deviation(self) -> str:
        return deviation_id(self.entry, self.key)

    @property
    def confounded(self) -> bool:
        return bool(self.moved)

    @property
    def first_bad(self) -> Version:
        return self.release if self.change == "appeared" else self.previous

    def describe(self) -> str:
        if self.change == "appeared":
            text = f"appeared in {self.release} (last good {self.previous})"
        else:
            text = f"disappeared in {self.release} (last bad {self.previous})"
        if not self.exact:
            text += ", not bisected: untested releases lie between"
        for version, why in self.unknown_between:
            text += f"; {version} between them could not be run ({why})"
        if self.moved:
            text += "; confounded: " + ", ".join(
                f"{name} {before or 'absent'} -> {after or 'absent'}"
                for name, (before, after) in sorted(self.moved.items()))
        return text

    def to_dict(self) -> dict:
        return {"deviation": self.deviation, "entry": self.entry, "change": self.change,
                "release": str(self.release), "previous": str(self.previous),
                **({"first_bad": str(self.release), "last_good": str(self.previous)}
                   if self.change == "appeared" else
                   {"last_bad": str(self.previous), "first_fixed": str(self.release)}),
                "exact": self.exact, "confounded": self.confounded,
                "moved": {n: list(pair) for n, pair in self.moved.items()},
                "unknown_between": [list(pair) for pair in self.unknown_between],
                "detail": self.detail}


def deviations(releases: Sequence[Release]) -> list[tuple[str, str]]:
    """Every (entry, key) found present at some release, in order of first sight."""
    found: dict[tuple[str, str], None] = {}
    for release in sorted(releases, key=lambda r: r.version):
        for entry, outcome in release.outcomes.items():
            for key in outcome.deviations:
                found[(entry, key)] = None
    return list(found)


def why_unknown(release: Release, entry: str) -> str:
    """Why ``entry`` was not measured at ``release``."""
    if release.status != "ran":
        return f"{release.status}: {release.reason}" if release.reason else release.status
    outcome = release.outcomes.get(entry)
    if outcome is None:
        return "the entry was not in this release's run"
    return f"{outcome.verdict}: {outcome.reason}" if outcome.reason else outcome.verdict


def moved_pins(before: Release, after: Release) -> dict[str, tuple[str | None, str | None]]:
    names = set(before.installed.pins) | set(after.installed.pins)
    moved = {}
    for name in sorted(names):
        pair = (before.version_of(name), after.version_of(name))
        if pair[0] != pair[1]:
            moved[name] = pair
    return moved


def changes(releases: Sequence[Release], candidates: Sequence[Version]) -> list[Change]:
    """Every appearance and disappearance, by deviation then release. ``candidates`` are
    the releases that could have been tried: a change with an untried one between its
    two sides is not exact."""
    ordered = sorted(releases, key=lambda r: r.version)
    tried = {r.version for r in ordered}
    found = []
    for entry, key in deviations(ordered):
        known = [(r, r.state(entry, key)) for r in ordered]
        known = [(r, s) for r, s in known if s is not None]
        for (before, was), (after, now) in pairwise(known):
            if was == now:
                continue
            between = [v for v in candidates if before.version < v < after.version]
            unknown = tuple((str(r.version), why_unknown(r, entry)) for r in ordered
                            if before.version < r.version < after.version)
            bad = after if now else before
            found.append(Change(
                entry=entry, key=key, change="appeared" if now else "disappeared",
                release=after.version, previous=before.version,
                exact=all(v in tried for v in between), unknown_between=unknown,
                moved=moved_pins(before, after),
                detail=bad.outcomes[entry].deviations.get(key, "")))
    return found


def gaps(releases: Sequence[Release], candidates: Sequence[Version]) -> list[list[Version]]:
    """For each change that is not exact, the untried releases between its two sides."""
    tried = {r.version for r in releases}
    found: dict[tuple[Version, Version], list[Version]] = {}
    for change in changes(releases, candidates):
        if not change.exact:
            found[(change.previous, change.release)] = [
                v for v in candidates
                if change.previous < v < change.release and v not in tried]
    return list(found.values())
