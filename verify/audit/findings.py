"""What an audit can find: a fixed, documented list of kinds, and waivers for known ones.

A :class:`Finding` names its kind, the tensors it concerns and what was seen. Each kind
is one line of :data:`KINDS`; the README's table is this dictionary.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KINDS: dict[str, str] = {
    "variance": "the variance departs from the expected law's (the measured std and its "
                "interval against the expected std)",
    "distribution": "the values are not from the expected family (Kolmogorov-Smirnov against "
                    "the exact CDF)",
    "support": "values outside the expected bounds, or a truncation that does not reach them",
    "mean": "the mean departs from the expected one",
    "constant": "a constant where a random init is expected, or a constant tensor (norm "
                "weights, biases) that does not hold its value",
    "non-finite": "NaN or infinite values",
    "uninitialized": "memory left uninitialized (torch.empty leftovers): values that change "
                     "between builds with the same seed, subnormal or absurd magnitudes",
    "identical": "two tensors, or two slices of one packed tensor, hold the same values",
    "correlated": "two tensors, or two slices of one packed tensor, are correlated",
    "left-on-default": "a tensor follows the framework's default while the other tensors of "
                       "its role (or its spec) follow the model's own scheme",
    "fan-mismatch": "the framework's default reads the fans from the stored shape, and they "
                    "differ from the semantic fans of the map the tensor implements",
    "depth-law": "the std does not follow the expected law in the layer index or the depth",
    "seeding": "the same seed gives different models, or different seeds give the same or "
               "correlated tensors",
    "reinitialized-on-load": "a tensor that does not come back bit for bit through the "
                             "library's own save and load path",
    "doc-mismatch": "the library's documentation and its code disagree (recorded by hand "
                    "with both citations; shown, never fails a run by itself)",
}
"""Every finding kind, with what it means."""

INFORMATIONAL = frozenset({"doc-mismatch"})
"""Kinds that are shown but do not make the exit status 1."""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One finding: ``kind`` (a key of :data:`KINDS`), the tensors' names, what was seen.

    ``config`` and ``replay`` are set where hypothesis explored configs: the minimal
    config that shows the finding and a command that replays it. ``waived`` carries
    the reason and link of a waiver that matched.
    """

    kind: str
    tensors: tuple[str, ...]
    detail: str
    expected: str | None = None
    measured: str | None = None
    numbers: dict = field(default_factory=dict)
    citation: str = ""
    config: dict | None = None
    replay: str | None = None
    waived: dict | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")

    @property
    def blocking(self) -> bool:
        """Does it make the run fail (exit status 1)?"""
        return self.waived is None and self.kind not in INFORMATIONAL

    def to_dict(self) -> dict:
        data = {"kind": self.kind, "tensors": list(self.tensors), "detail": self.detail,
                "expected": self.expected, "measured": self.measured,
                "numbers": self.numbers, "citation": self.citation or None,
                "config": self.config, "replay": self.replay, "waived": self.waived,
                "blocking": self.blocking}
        return {key: value for key, value in data.items() if value not in (None, {}, "")}


class WaiverError(ValueError):
    """A waiver file that does not parse: one line, ``FILE:LINE:COL: what is wrong``."""


@dataclass(frozen=True, kw_only=True)
class Waiver:
    kind: str
    tensors: str
    """A glob (``fnmatch``: ``*`` matches anything, dots included)."""
    reason: str
    link: str
    target: str = "*"
    """A glob over the audited target (``transformers:GPT2Model``, ``pkg.mod:build``)."""

    def matches(self, finding: Finding, target: str) -> bool:
        return (finding.kind == self.kind and fnmatch.fnmatchcase(target, self.target)
                and any(fnmatch.fnmatchcase(name, self.tensors) for name in finding.tensors))


def load_waivers(path: str | Path) -> list[Waiver]:
    """Read a waiver file: TOML with one ``[[waive]]`` table per known finding::

        [[waive]]
        kind = "fan-mismatch"                      # a finding kind
        tensors = "*.in_proj_weight"               # a glob over tensor names
        target = "torch:nn.MultiheadAttention"     # optional glob over targets
        reason = "xavier_uniform_ on the packed (3E, E) tensor"
        link = "https://github.com/pytorch/pytorch/issues/..."
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise WaiverError(f"{path}: cannot read the waiver file ({error.strerror})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        from verify.audit.spec import _toml_error

        raise WaiverError(str(_toml_error(error, text, str(path), []))) from None
    unknown = set(document) - {"waive"}
    if unknown:
        raise WaiverError(f"{path}: unknown table {sorted(unknown)[0]!r}: "
                          "write one [[waive]] table per finding")
    waivers = []
    for index, entry in enumerate(document.get("waive", []), 1):
        where = f"{path}: [[waive]] number {index}"
        missing = {"kind", "tensors", "reason", "link"} - set(entry)
        if missing:
            raise WaiverError(f"{where}: missing {', '.join(sorted(missing))} "
                              "(each waiver needs kind, tensors, reason and link)")
        extra = set(entry) - {"kind", "tensors", "reason", "link", "target"}
        if extra:
            raise WaiverError(f"{where}: unknown key {sorted(extra)[0]!r}")
        if entry["kind"] not in KINDS:
            raise WaiverError(f"{where}: unknown kind {entry['kind']!r}: use one of "
                              f"{', '.join(KINDS)}")
        waivers.append(Waiver(**{key: str(value) for key, value in entry.items()}))
    return waivers


def apply_waivers(findings: Sequence[Finding], waivers: Sequence[Waiver],
                  target: str) -> list[Finding]:
    """The findings, those a waiver matches marked ``waived`` with its reason and link."""
    marked = []
    for finding in findings:
        waiver = next((w for w in waivers if w.matches(finding, target)), None)
        marked.append(finding if waiver is None else
                      replace(finding, waived={"reason": waiver.reason, "link": waiver.link}))
    return marked


CHECK_KINDS = {"variance": "variance", "mean": "mean", "shape": "distribution",
               "support": "support", "independence": "correlated", "finite": "non-finite",
               "constant": "constant"}
"""The finding kind of a failing check of ``check`` and ``conformance``."""


def waive_rows(rows: Sequence[dict], waivers: Sequence[Waiver]) -> list[dict]:
    """Conformance rows, those that fail with a kind a waiver names (and whose target its
    ``target`` glob matches; ``tensors`` is not used here) marked ``waived``."""
    marked = []
    for row in rows:
        example = row.get("counterexample") or {}
        kinds = {CHECK_KINDS.get(name, name) for name in example.get("failed", ())}
        waiver = next((w for w in waivers if row["verdict"] in ("fail", "suspicious")
                       and w.kind in kinds and fnmatch.fnmatchcase(row["target"], w.target)),
                      None)
        marked.append(row if waiver is None else
                      {**row, "waived": {"reason": waiver.reason, "link": waiver.link}})
    return marked
