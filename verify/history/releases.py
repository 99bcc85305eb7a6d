"""Which releases of a distribution ``history`` runs: what the index serves to this
Python, narrowed by ``--versions``, the latest patch of each minor release to start with,
and the untested releases between two tested ones for bisection.

The index is asked through pip itself (``pip index versions --json --only-binary
:all:``), so ``--index-url``, ``--find-links`` and ``--no-index`` mean what they mean to
pip, and the list holds only the releases that have a wheel this interpreter can install
(pip's finder checks the wheel tags and ``Requires-Python``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


class IndexUnavailable(Exception):
    """The index could not be asked, or holds no release of the distribution."""


@dataclass(frozen=True)
class IndexOptions:
    """Where pip looks for releases: ``--index-url``, ``--find-links``, ``--no-index``."""

    index_url: str | None = None
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def to_record(self) -> dict:
        return {"index_url": self.index_url, "find_links": list(self.find_links),
                "no_index": self.no_index}

    @classmethod
    def from_record(cls, record: dict) -> IndexOptions:
        return cls(index_url=record["index_url"], find_links=tuple(record["find_links"]),
                   no_index=record["no_index"])

    def pip_arguments(self) -> list[str]:
        words = []
        if self.no_index:
            words.append("--no-index")
        if self.index_url:
            words += ["--index-url", self.index_url]
        for place in self.find_links:
            words += ["--find-links", place]
        return words


@dataclass(frozen=True)
class Selection:
    """What ``--versions`` asked for: one specifier (``">=3.0,<3.16"``), explicit
    releases (``3.1.1 3.2.0``), or nothing (every release on the index)."""

    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    explicit: tuple[Version, ...] = ()

    def describe(self) -> str:
        if self.explicit:
            return " ".join(map(str, self.explicit))
        return str(self.specifier) or "every release on the index"


def parse_selection(words: Sequence[str] | None) -> Selection:
    """``--versions``: one PEP 440 specifier, or one or more releases. A ValueError says
    what was wrong."""
    if not words:
        return Selection()
    explicit = []
    for word in words:
        try:
            explicit.append(Version(word))
        except InvalidVersion:
            explicit = None
            break
    if explicit is not None:
        return Selection(explicit=tuple(sorted(set(explicit))))
    if len(words) > 1:
        raise ValueError(f"--versions takes one specifier such as '>=3.0,<3.16' or releases "
                         f"such as '3.1.1 3.2.0', got {' '.join(words)!r}")
    try:
        specifier = SpecifierSet(words[0])
    except InvalidSpecifier:
        raise ValueError(f"--versions {words[0]!r} is neither a release such as 3.1.1 nor a "
                         "PEP 440 specifier such as '>=3.0,<3.16'") from None
    return Selection(specifier=specifier)


def available_releases(distribution: str, index: IndexOptions) -> list[Version]:
    """The final releases of ``distribution`` that the index serves as wheels this Python
    can install, oldest first. :class:`IndexUnavailable` with pip's reason when there are none."""
    name = distribution.partition("[")[0]
    command = [sys.executable, "-m", "pip", "index", "versions", name, "--json",
               "--only-binary", ":all:", "--disable-pip-version-check", "--no-input",
               *index.pip_arguments()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise IndexUnavailable(f"the index has no installable release of {name}: "
                          f"{pip_reason(done.stderr)}")
    try:
        listed = json.loads(done.stdout)["versions"]
    except (ValueError, KeyError, TypeError):
        raise IndexUnavailable(f"pip index versions {name} printed no JSON list of releases") \
            from None
    releases = sorted({Version(v) for v in listed if _is_version(v)})
    if not releases:
        raise IndexUnavailable(f"the index has no installable release of {name}")
    return releases


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def pip_reason(stderr: str) -> str:
    """pip's one-line reason: its first ``ERROR:`` line, else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip()
    return lines[-1] if lines else "pip failed and said nothing"


def in_selection(releases: Iterable[Version], selection: Selection) -> list[Version]:
    """The releases the selection covers, oldest first: those the specifier allows, or,
    for explicit releases, every release from the oldest to the newest one named (the
    range bisection may look into)."""
    releases = sorted(releases)
    if selection.explicit:
        low, high = selection.explicit[0], selection.explicit[-1]
        return [v for v in releases if low <= v <= high]
    return [v for v in releases if selection.specifier.contains(v, prereleases=False)]


def latest_patches(releases: Iterable[Version]) -> list[Version]:
    """The latest patch of each minor release (``3.9.2`` for 3.9.0, 3.9.1, 3.9.2), oldest
    first."""
    latest: dict[tuple[int, int], Version] = {}
    for version in releases:
        minor = (version.major, version.minor)
        if minor not in latest or version > latest[minor]:
            latest[minor] = version
    return sorted(latest.values())


def starting_releases(releases: Sequence[Version], selection: Selection) -> list[Version]:
    """The releases to run first, oldest first: the explicit ones, else the latest patch of
    each minor release among ``releases``."""
    return sorted(selection.explicit) if selection.explicit else latest_patches(releases)
