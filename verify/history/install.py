"""Install one release beside the running environment, never into it.

A release goes into its own directory, ``<cache>/<distribution>-<version>``, with
``pip install --target DIR --no-deps``. What else goes there is what pip's resolver says
the release needs and the running interpreter's environment (the *base*) does not
satisfy: ``pip install --dry-run --report`` against the base lists exactly those. The
release's own distributions (``jaxlib`` for ``jax``) are expected to move with it; any
other distribution that moves is a *pin* of the release, recorded with the base's version
beside it, because a change of verdict at that release may come from it instead.

A process that puts the directory first on ``PYTHONPATH`` imports the release, its pins,
and everything else from the base. The directory is installed under a temporary name and
renamed when complete, so an interrupted install leaves nothing that looks cached; a
manifest inside records what was installed, for the next run to reuse.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from verify.execute.lifetime import bound
from verify.history.releases import IndexOptions, pip_reason

MANIFEST = "initverify-history.json"
PIP_TIMEOUT = 1800.0
"""Seconds one pip command may take (a large wheel on a slow link)."""


@dataclass(frozen=True, kw_only=True)
class Installed:
    """One release in its directory, or why it could not be installed (``reason``)."""

    version: str
    path: Path | None
    own: dict[str, str] = field(default_factory=dict)
    """The library's own distributions installed there (``jax``, ``jaxlib``): version."""
    pins: dict[str, str] = field(default_factory=dict)
    """Other distributions the release moved away from the base: version installed."""
    base: dict[str, str | None] = field(default_factory=dict)
    """The base's version of each pin (None: the base does not have it)."""
    reason: str = ""
    seconds: float = 0.0
    bytes: int = 0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.path is not None and not self.reason

    def to_record(self) -> dict:
        """Every field, JSON-ready; :meth:`from_record` reads it back."""
        return {**asdict(self), "path": None if self.path is None else str(self.path)}

    @classmethod
    def from_record(cls, record: dict) -> Installed:
        path = record["path"]
        return cls(**{**record, "path": None if path is None else Path(path)})


def release_directory(cache: Path, distribution: str, version: str) -> Path:
    return cache / f"{canonicalize_name(distribution.partition('[')[0])}-{version}"


def install_release(requirement: str, version: str, *, own: frozenset[str], cache: Path,
                    index: IndexOptions) -> Installed:
    """Install ``requirement`` (a distribution name, with extras such as ``mlx[cpu]``) at
    ``version`` into its cache directory, or reuse it from an earlier run. ``own`` names the
    distributions that belong to the library (moving them is no confounder)."""
    started = time.monotonic()
    directory = release_directory(cache, requirement, version)
    cached = _read_manifest(directory)
    if cached is not None:
        return Installed(version=version, path=directory, own=cached["own"],
                         pins=cached["pins"], base=cached["base"],
                         seconds=time.monotonic() - started, bytes=cached["bytes"],
                         cached=True)
    failed = _failure(version, started)
    wanted = f"{requirement}=={version}"
    moved, reason = resolve_against_base(wanted, version, index)
    if reason:
        return failed(reason)
    name = canonicalize_name(requirement.partition("[")[0])
    moved.setdefault(name, version)
    own_names = {canonicalize_name(n) for n in own} | {name}
    for companion in own_names - set(moved):
        # the base's copy satisfies the release; install it beside the release all the same,
        # since companions may share its package directory (mlx-cpu puts its library in mlx/)
        if base_version(companion) is not None:
            moved[companion] = base_version(companion)
    cache.mkdir(parents=True, exist_ok=True)
    _remove_stale(cache, directory.name)
    partial = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=cache))
    try:
        done = _pip(["install", "--target", str(partial), "--no-deps", "--only-binary", ":all:",
                     "--quiet", *_pre(version), *index.pip_arguments(),
                     *(f"{n}=={v}" for n, v in sorted(moved.items()))])
        if done.returncode != 0:
            return failed(pip_reason(done.stderr))
        manifest = {
            "requirement": wanted, "python": platform.python_version(),
            "executable": sys.executable,
            "own": {n: v for n, v in moved.items() if n in own_names},
            "pins": {n: v for n, v in moved.items() if n not in own_names},
        }
        manifest["base"] = {n: base_version(n) for n in manifest["pins"]}
        manifest["bytes"] = directory_bytes(partial)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if directory.exists():  # left by another interpreter, or incomplete: replace it
            shutil.rmtree(directory, ignore_errors=True)
        try:
            partial.rename(directory)
        except OSError:  # another run installed it meanwhile: use theirs
            if _read_manifest(directory) is None:
                raise
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return Installed(version=version, path=directory, own=manifest["own"], pins=manifest["pins"],
                     base=manifest["base"], seconds=time.monotonic() - started,
                     bytes=manifest["bytes"])


def resolve_against_base(requirement: str, version: str,
                         index: IndexOptions) -> tuple[dict[str, str], str]:
    """What installing ``requirement`` into the base would install: ``({name: version},
    "")``, or ``({}, pip's one-line reason)``. Nothing is installed."""
    with tempfile.TemporaryDirectory(prefix="initverify-report-") as scratch:
        report = Path(scratch) / "report.json"
        done = _pip(["install", "--dry-run", "--quiet", "--report", str(report),
                     "--only-binary", ":all:", *_pre(version), *index.pip_arguments(),
                     requirement])
        if done.returncode != 0:
            return {}, pip_reason(done.stderr)
        try:
            planned = json.loads(report.read_text())["install"]
        except (OSError, ValueError, KeyError):
            return {}, "pip's dry run wrote no report of what it would install"
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
            for item in planned}, ""


def base_version(name: str) -> str | None:
    """The base environment's version of distribution ``name`` (None: not installed)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def directory_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _remove_stale(cache: Path, name: str) -> None:
    """Remove the partial installs of ``name`` that an ended run left (its pip killed
    mid-install): those older than pip may take, so that one still running is kept."""
    for partial in cache.glob(f".{name}.*"):
        try:
            if time.time() - partial.stat().st_mtime > PIP_TIMEOUT:
                shutil.rmtree(partial, ignore_errors=True)
        except OSError:
            pass


def _pip(arguments: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", *arguments, "--disable-pip-version-check",
               "--no-input"]
    try:
        return subprocess.run(bound(command), capture_output=True, text=True, timeout=PIP_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 1, "", f"ERROR: pip took longer than "
                                           f"{PIP_TIMEOUT:g} s")


def _pre(version: str) -> list[str]:
    return ["--pre"] if Version(version).is_prerelease else []


def _failure(version: str, started: float):
    def failed(reason: str) -> Installed:
        return Installed(version=version, path=None, reason=reason,
                         seconds=time.monotonic() - started)

    return failed


def _read_manifest(directory: Path) -> dict | None:
    """The manifest of a complete install made by this interpreter, else None."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("python") != platform.python_version() or \
            manifest.get("executable") != sys.executable:
        return None
    return manifest
