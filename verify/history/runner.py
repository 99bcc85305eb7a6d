"""Run the entries of one installed release, in child processes that see the release.

Each child is ``python -m verify ...`` with the release's directory first on
``PYTHONPATH`` and this project's code next, so it imports the release, its pins, and the
rest from the base environment; the user's environment is only read. First a probe
imports the library (:mod:`verify.history.probe`): a release that does not import is
recorded with the exception. Then, by the :class:`Plan`'s mode:

- ``conformance``: every catalog entry of the library, one child
  (``conformance --library L --json``);
- ``check``: each entry (a catalog name, or the user's ``--target``) in its own child
  (``check NAME --json``);
- ``audit``: each transformers architecture in its own child
  (``audit transformers:NAME --json``).

Every child gets the same seed, so that two releases draw the same numbers where their
code is the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import verify
from verify.execute.lifetime import bound
from verify.matrix import label

CHILD_TIMEOUT = 3600.0
"""Seconds one child (a whole conformance run of a release) may take."""


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What ``history`` runs on each release, and how the release is named and imported."""

    library: str
    """The catalog library (``keras``), ``transformers``, or for ``--target`` the
    distribution's own name."""
    requirement: str
    """What pip installs: ``jax[cpu]``, ``mlx[cpu]``, ``scikit-learn``, ..."""
    module: str
    """The module a probe imports to see whether the release works."""
    own: frozenset[str] = frozenset()
    """Distributions that belong to the library and move with it (``jaxlib``)."""
    mode: str = "conformance"
    entries: tuple[str, ...] = ()
    check_options: tuple[str, ...] = ()
    """For a ``--target``: the claim (``--api numpy --scheme he --dist normal``)."""
    examples: int = 3
    seed: int = 0
    timeout: float = 60.0
    dtype: str = "float32"
    """The dtype each initializer is asked for (one, to keep a release's run short)."""

    @property
    def distribution(self) -> str:
        return self.requirement.partition("[")[0]

    def to_record(self) -> dict:
        """Every field, JSON-ready (a unit's argument); :meth:`from_record` reads it back."""
        return {**asdict(self), "own": sorted(self.own), "entries": list(self.entries),
                "check_options": list(self.check_options)}

    @classmethod
    def from_record(cls, record: dict) -> Plan:
        return cls(**{**record, "own": frozenset(record["own"]),
                      "entries": tuple(record["entries"]),
                      "check_options": tuple(record["check_options"])})


def deviation_id(entry: str, key: str) -> str:
    """How a deviation is named: the entry, and for an audit the finding."""
    return f"{entry}: {key}" if key else entry


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One entry on one release. ``verdict``: ``pass``, ``fail``, ``suspicious``,
    ``error`` (it could not be run: ``reason``) or ``skipped``. ``deviations`` maps each
    deviation found (the entry itself for a check; each blocking finding of an audit) to
    what was measured."""

    verdict: str
    deviations: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    evidence: dict = field(default_factory=dict, compare=False)
    """A failed check's counterexample (shape, checks), for a bug report
    (:mod:`verify.upstream.history`)."""

    @property
    def known(self) -> bool:
        """Whether the entry was measured: it passed or it failed."""
        return self.verdict in ("pass", "fail")

    def to_dict(self, entry: str) -> dict:
        fields: dict = {"verdict": self.verdict}
        if self.deviations:
            fields["deviations"] = [
                {"deviation": deviation_id(entry, key), "measured": measured}
                for key, measured in self.deviations.items()]
        if self.reason:
            fields["reason"] = self.reason
        return fields


@dataclass(frozen=True, kw_only=True)
class Ran:
    """What running a release gave: ``status`` ``ran`` with an outcome per entry, or
    ``import failed`` or ``error`` (the run itself failed) with the ``reason``."""

    status: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    reason: str = ""
    imported: str = ""
    """The version the child imported (its ``importlib.metadata`` version)."""

    def to_record(self) -> dict:
        """Every field, JSON-ready; :meth:`from_record` reads it back."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> Ran:
        return cls(**{**record, "outcomes": {name: Outcome(**outcome) for name, outcome
                                             in record["outcomes"].items()}})


def child_environment(directory: Path) -> dict[str, str]:
    """This process's environment, with the release directory and this project's code
    first on ``PYTHONPATH``."""
    project = str(Path(verify.__file__).resolve().parent.parent)
    paths = [str(directory), project]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONNOUSERSITE": "1"}


def _child(arguments: list[str], environment: dict[str, str],
           timeout: float = CHILD_TIMEOUT) -> subprocess.CompletedProcess:
    command = [sys.executable, *arguments]
    try:
        return subprocess.run(bound(command), capture_output=True, text=True, env=environment,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, -1, "", f"took longer than {timeout:g} s")


def last_line(stderr: str, returncode: int) -> str:
    """The reason a child gives: its last line on stderr, without ``error:``."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if returncode < 0 and not lines:
        return f"the process was killed by signal {-returncode}"
    if not lines:
        return f"exit status {returncode} and nothing on stderr"
    return lines[-1].removeprefix("error:").strip()


def run_release(plan: Plan, directory: Path) -> Ran:
    """Probe the release in ``directory``, then run the plan's entries on it."""
    environment = child_environment(directory)
    probe = _child(["-m", "verify.history.probe", plan.distribution, plan.module],
                   environment, timeout=600.0)
    if probe.returncode != 0:
        return Ran(status="import failed", reason=last_line(probe.stderr, probe.returncode))
    try:
        seen = json.loads(probe.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Ran(status="import failed", reason="the probe printed no result")
    if not Path(seen["location"]).resolve().is_relative_to(directory.resolve()):
        return Ran(status="import failed",
                   reason=f"{plan.module} was imported from {seen['location']}, not from the "
                   "release's directory (something in the base environment shadows it)")
    common = ["--json", "--seed", str(plan.seed), "--examples", str(plan.examples)]
    outcomes: dict[str, Outcome] = {}
    if plan.mode == "conformance":
        # one release is one unit of the history: its entries run in its child, in order
        # (no cluster of their own), and their store is thrown away with the child
        with tempfile.TemporaryDirectory(prefix="verify-history-") as store:
            done = _child(["-m", "verify", "conformance", "--library", plan.library,
                           "--no-fingerprint", "--timeout", str(plan.timeout), "--dtype",
                           plan.dtype, "--workers", "0", "--out", store, *common],
                          environment)
        document = _document(done)
        if document is None:
            return Ran(status="error", imported=seen["version"],
                       reason=last_line(done.stderr, done.returncode))
        for row in document["entries"]:
            outcomes[label(row)] = _from_row(row)
    else:
        for entry in plan.entries:
            if plan.mode == "audit":
                arguments = ["audit", entry, "--timeout", str(plan.timeout)]
                if plan.dtype != "float32":
                    arguments += ["--dtype", plan.dtype]
            else:
                arguments = ["check", entry, *plan.check_options, "--timeout",
                             str(plan.timeout), "--dtype", plan.dtype]
            done = _child(["-m", "verify", *arguments, *common], environment)
            document = _document(done)
            if document is None:
                outcomes[entry] = Outcome(verdict="error",
                                          reason=last_line(done.stderr, done.returncode))
            elif plan.mode == "audit":
                outcomes[entry] = _from_audit(document)
            else:
                outcomes[entry] = _from_row(document)
    return Ran(status="ran", outcomes=outcomes, imported=seen["version"])


def _document(done: subprocess.CompletedProcess) -> dict | None:
    """The JSON document a child printed (exit 0 or 1), else None."""
    if done.returncode not in (0, 1):
        return None
    try:
        document = json.loads(done.stdout)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def describe_counterexample(row: dict) -> str:
    example = row.get("counterexample") or {}
    if not example:
        failed = [c["name"] for c in row.get("checks", ()) if c.get("verdict") == "fail"]
        return f"failed: {', '.join(failed)}" if failed else "does not conform"
    parts = [f"failed {', '.join(example.get('failed', ())) or 'a check'} at shape "
             f"{'x'.join(map(str, example['shape']))}"]
    if example.get("variance_ratio") is not None:
        parts.append(f"variance ratio {example['variance_ratio']:.4g}")
    return ", ".join(parts)


def _from_row(row: dict) -> Outcome:
    """An outcome from a conformance row or a check document (the same fields)."""
    verdict = row.get("verdict", "error")
    if verdict == "fail":
        return Outcome(verdict="fail", deviations={"": describe_counterexample(row)},
                       evidence=row.get("counterexample") or {})
    reason = row.get("error") or row.get("reason") or ""
    return Outcome(verdict=verdict, reason=reason)


def _from_audit(document: dict) -> Outcome:
    """An audit's blocking findings, one deviation each (kind and tensors)."""
    if document.get("verdict") == "error":
        return Outcome(verdict="error", reason=document.get("error") or "the build failed")
    deviations = {}
    for finding in document.get("findings", ()):
        if finding.get("blocking"):
            tensors = ", ".join(finding.get("tensors", ())) or "the model"
            deviations[f"{finding['kind']} {tensors}"] = finding.get("detail", "")
    verdict = document.get("verdict", "error")
    if verdict == "fail" and not deviations:
        deviations["fail"] = "the audit failed"
    return Outcome(verdict=verdict if verdict in ("pass", "fail") else "error",
                   deviations=deviations)
