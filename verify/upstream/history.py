"""Bug reports from a release history: one per deviation present in some release, with
the first bad and the last good release, and the reproduction of the installed entry."""

from __future__ import annotations

import shlex
from types import SimpleNamespace

from verify.upstream.findings import from_conformance, library_versions
from verify.upstream.report import BugReport


def _entries(library: str) -> dict:
    from verify import catalog

    if library not in catalog.LIBRARIES:
        return {}
    try:
        return {e.name: e for e in catalog.load([library]).entries}
    except Exception:  # the installed release cannot give its catalog: reports go without
        return {}


USER_SNIPPETS = {
    "numpy": "from {module} import {attribute} as fn; "
             "w = np.asarray(fn({{shape}}, np.random.default_rng({{seed}}){arguments}))",
    "torch": "import torch; from {module} import {attribute} as fn; t = torch.empty({{shape}}); "
             "torch.manual_seed({{seed}}); fn(t{arguments}); w = t.numpy()",
}
"""The reproduction of a ``--target`` through the apis whose call needs nothing else."""


def _user_entry(plan):
    """A catalog-like entry for ``history --target``: its claim, as ``check`` reads it."""
    import argparse
    import json

    from verify.schemes import InitSpec
    from verify.targets import APIS

    parser = argparse.ArgumentParser(add_help=False)
    for option in ("api", "scheme", "dist", "mode", "layout", "kwargs"):
        parser.add_argument(f"--{option}")
    parser.add_argument("--gain", type=float)
    known, _ = parser.parse_known_args(list(plan.check_options))
    known.target = plan.entries[0] if plan.entries else None
    if not (known.target and known.scheme and known.dist):
        return None
    api = known.api or "torch"
    claim = InitSpec(known.scheme, known.dist, layout=known.layout or APIS.get(api, "oihw"),
                     mode=known.mode, gain=known.gain)
    module, _, attribute = known.target.partition(":")
    kwargs = json.loads(known.kwargs) if known.kwargs else {}
    arguments = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    snippet = USER_SNIPPETS.get(api, "").format(module=module, attribute=attribute,
                                                arguments=arguments) or None
    entry = SimpleNamespace(name=known.target, label=known.target, library=plan.library,
                            claim=claim, convention="", max_calls=20_000,
                            documented=f"The law given to history: {claim.describe()} "
                            f"({' '.join(plan.check_options)}).",
                            target=lambda dtype: SimpleNamespace(reproduce=snippet))
    return entry


def reports(found) -> list[BugReport]:
    """One report per deviation of ``found`` (a :class:`verify.history.History`)."""
    plan = found.plan
    entries = _entries(plan.library)
    if not entries and plan.check_options:
        user = _user_entry(plan)
        entries = {user.name: user} if user is not None else {}
    changes = found.changes
    ordered = sorted(found.releases, key=lambda r: r.version)
    result = []
    for row in found.deviation_table():
        if not row["present_in"]:
            continue
        entry_name, deviation = row["entry"], row["deviation"]
        key = deviation[len(entry_name) + 2:] if deviation != entry_name else ""
        appeared = [c for c in changes if c.deviation == deviation and c.change == "appeared"]
        gone = [c for c in changes if c.deviation == deviation and c.change == "disappeared"]
        states = [(str(r.version), {True: "deviates", False: "conforms", None:
                                    r.reason or "unknown"}[r.state(entry_name, key)])
                  for r in ordered]
        tried_bad = [r for r in ordered if r.state(entry_name, key)]
        history = {"first_bad": str(appeared[-1].release) if appeared else
                   f"{tried_bad[0].version} or earlier (the oldest release tried deviates)",
                   "last_good": str(appeared[-1].previous) if appeared else None,
                   "releases": states}
        if gone:
            history["fixed_in"] = str(gone[-1].release)
        moved = appeared[-1].moved if appeared else {}
        if moved:
            history["confounded"] = "; ".join(f"{name} {before} -> {after}"
                                              for name, (before, after) in moved.items())
        newest = tried_bad[-1]
        outcome = newest.outcomes[entry_name]
        entry = entries.get(entry_name)
        report = None
        if entry is not None and outcome.evidence:
            row_data = {"verdict": "fail", "dtype": plan.dtype,
                        "counterexample": outcome.evidence}
            try:
                target = entry.target(plan.dtype)
            except Exception:
                target = None
            user = isinstance(entry, SimpleNamespace)
            report = from_conformance(entry, row_data, target, seed=plan.seed,
                                      history=history, found_by=(
                                          outcome.evidence.get("reproduce", "") if user
                                          else None))
        if report is None:
            report = BugReport(
                library=plan.library, target=entry_name,
                title=f"{deviation} (since {history['first_bad']})",
                versions=library_versions(plan.library),
                documented=entry.documented if entry is not None else
                "See the command under 'Found by'.",
                claim=entry.claim.describe() if entry is not None else deviation,
                found_by=f"python -m verify history {plan.library} --only "
                f"{shlex.quote(entry_name)}",
                instead=outcome.deviations.get(key, ""), history=history,
                program_note="No standalone script for this deviation: the installed "
                "release has no catalog entry of that name, or the history ran an audit. "
                "The command under 'Found by' reproduces it.")
        found_by = (f"python -m verify history {plan.library} --only {shlex.quote(entry_name)} "
                    f"--versions {history['last_good'] or ''} {newest.version}").replace(
                        "  ", " ")
        versions = {plan.library: str(newest.version), **{
            k: v for k, v in report.versions.items() if k != plan.library}}
        result.append(_with(report, found_by=found_by + "\n" + report.found_by,
                            versions=versions,
                            paths=(str(newest.installed.path),) if newest.installed.path
                            else (),
                            title=f"{report.title} (first bad release: "
                            f"{history['first_bad']})"))
    return result


def _with(report: BugReport, **changes) -> BugReport:
    from dataclasses import replace

    return replace(report, **changes)
