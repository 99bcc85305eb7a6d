"""Every command's ``--json``: one JSON object that starts with ``schema_version``,
``seed`` and ``versions``, then the command's own fields, as README.md's "JSON output"
documents them.

Each command runs in-process (``verify.cli.main``) on the smallest work that still
exercises its whole path: one claim, one example, one shape, small layers, one catalog
entry, a measurement of one run and one trial, one release of a fake library from a local
wheelhouse. A few seconds each.
"""

from __future__ import annotations

import json

import pytest

from verify.cli import build_parser, main

SEED = 3

RUNS = {
    "claims": ["claims", "--only", "uniform.moments", "--examples", "1"],
    "check": ["check", "torch:xavier_uniform_", "--shape", "8,4"],
    "conformance": ["conformance", "--library", "torch", "--examples", "1", "--no-fingerprint"],
    "fingerprint": ["fingerprint", "torch:kaiming_normal_"],
    "compare": ["compare", "torch:kaiming_normal_", "torch:kaiming_uniform_", "--layer", "16,8"],
    "compare --models": ["compare", "--models", "tests.compare_models:mlp",
                         "tests.compare_models:mlp_normal"],
    "audit": ["audit", "torch:nn.Linear", "--kwargs", '{"in_features": 16, "out_features": 8}'],
    "history": ["history", "fakeinit", "--target", "fakeinit.init:he", "--api", "numpy",
                "--scheme", "he", "--dist", "normal", "--versions", "1.0.0", "--examples", "1"],
    "measure": ["measure", "--quick", "--runs", "1", "--null-runs", "1", "--trials", "1",
                "--no-explore"],
}
"""The quick run of each command that has ``--json`` (keyed ``command --mode`` for a mode
with its own fields)."""

FIELDS = {
    "claims": {"policy", "seconds", "claims"},
    "check": {"target", "claim", "verdict", "shape", "checks", "shapes_tested",
              "counterexample", "seconds", "generation_seconds"},
    "conformance": {"verdict", "entries"},
    "fingerprint": {"target", "scheme", "gain", "gain_interval", "mode", "distribution",
                    "variance_law", "layout", "verdict_confidence", "summary", "shapes"},
    "compare": {"targets", "equivalent", "layers", "ratio_law", "fingerprints", "notes"},
    "compare --models": {"models", "map", "builds", "alpha", "equivalent", "pairs",
                         "unmatched_a", "unmatched_b", "notes", "seconds"},
    "audit": {"verdict", "target", "api", "builds", "tensors", "findings", "replay"},
    "history": {"library", "distribution", "mode", "entries", "selection", "candidates",
                "releases", "changes", "deviations", "not_bisected", "cache", "seconds"},
    "measure": {"budget", "null", "power", "peers", "calibration", "seconds"},
}
"""The fields each command documents besides the three every document has."""


def commands_with_json() -> set[str]:
    commands = next(action for action in build_parser()._actions
                    if action.dest == "command").choices
    return {name for name, parser in commands.items()
            if any("--json" in action.option_strings for action in parser._actions)}


def test_every_command_with_json_is_tested_here():
    assert commands_with_json() == {run.split()[0] for run in RUNS}, \
        "a command with --json needs a quick run in RUNS and its fields in FIELDS"
    assert set(FIELDS) == set(RUNS)


@pytest.fixture
def one_catalog_entry(monkeypatch):
    """``conformance`` on one fast entry, and one library listed as not installed."""
    from verify import catalog

    entry = catalog.load(["torch"]).find("torch:xavier_uniform_")
    monkeypatch.setattr(catalog, "load", lambda libraries=None, **_: catalog.Catalog(
        [entry], {"jax": "jax is not installed"}))


@pytest.fixture
def fake_wheelhouse(monkeypatch, tmp_path):
    """``history`` on ``fakeinit`` from a local wheelhouse (pip's own environment variables
    say where), installed into a cache in ``tmp_path``."""
    from tests.fake_releases import wheelhouse

    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse(tmp_path / "wheels")))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("VERIFY_HISTORY_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("command", list(RUNS))
def test_json_is_one_object_with_schema_version_seed_and_versions(
        command, request, capsys, tmp_path):
    if command == "conformance":
        request.getfixturevalue("one_catalog_entry")
    if command == "history":
        request.getfixturevalue("fake_wheelhouse")
    argv = [*RUNS[command], "--seed", str(SEED), "--json"]
    if command == "measure":
        argv += ["--out", str(tmp_path / "m.json"), "--store", str(tmp_path / "store")]
    status = main(argv)
    stdout = capsys.readouterr().out
    assert status in (0, 1)
    document = json.loads(stdout)  # one document, nothing else on stdout
    assert isinstance(document, dict)
    assert list(document)[:3] == ["schema_version", "seed", "versions"]
    assert document["schema_version"] == 1
    assert document["seed"] == SEED
    assert {"python", "numpy", "scipy", "torch", "hypothesis"} <= document["versions"].keys()
    assert FIELDS[command] <= document.keys(), FIELDS[command] - document.keys()
    if command == "measure":  # the file --out names holds the same document
        assert json.loads((tmp_path / "m.json").read_text()) == document


def test_conformance_json_has_a_verdict_and_one_entry_per_target(one_catalog_entry, capsys):
    status = main(["conformance", "--examples", "1", "--no-fingerprint", "--seed", str(SEED),
                   "--dtype", "float32", "float16", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert document["verdict"] == ("pass" if status == 0 else "fail")
    assert [(e["target"], e.get("dtype")) for e in document["entries"]] == [
        ("torch:xavier_uniform_", "float32"), ("torch:xavier_uniform_", "float16"),
        ("jax:*", None)]
    assert document["entries"][-1]["verdict"] == "skipped"
    assert {"library", "dtype", "kind", "claim", "documented", "counterexample",
            "seconds"} <= document["entries"][0].keys()


def test_claims_json_lists_each_claim_with_its_evidence(capsys):
    assert main([*RUNS["claims"], "--seed", str(SEED), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["policy"] == {"alpha": 1e-9, "power": 0.99, "effect": 0.01}
    [claim] = document["claims"]
    assert claim["id"] == "uniform.moments" and claim["verdict"] == "holds"
    assert {"statement", "source", "conditions", "evidence", "seed", "seconds"} <= claim.keys()
    assert {"explorations", "facts", "table", "checks"} <= claim["evidence"].keys()
