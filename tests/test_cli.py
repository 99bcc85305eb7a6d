"""The command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from verify.claims import CLAIMS


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True,
                          text=True, timeout=1800, env=env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("claims", "--only", "no.such-claim"), "unknown claim ID 'no.such-claim'"),
        (("claims", "--examples", "0"), "expected a positive integer"),
        (("claims", "--seed", "-3"), "non-negative integer"),
        (("frobnicate",), "invalid choice"),
        ((), "required"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_seed_in_the_environment_is_exit_2():
    import os
    result = run("claims", "--only", "uniform.moments", env={**os.environ, "VERIFY_SEED": "x"})
    assert result.returncode == 2 and "VERIFY_SEED" in result.stderr


def test_list_names_every_claim():
    result = run("claims", "--list")
    assert result.returncode == 0
    for claim_id in CLAIMS:
        assert claim_id in result.stdout


def test_json_is_one_document_with_the_required_fields():
    result = run("claims", "--only", "uniform.moments", "he.variance.erratum", "--json",
                 "--examples", "2", "--seed", "5")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [entry["id"] for entry in document] == ["uniform.moments", "he.variance.erratum"]
    for entry in document:
        assert {"id", "verdict", "statement", "evidence", "seed", "versions"} <= entry.keys()
        assert entry["seed"] == 5
    assert document[0]["verdict"] == "holds"
    assert document[0]["evidence"]["checks"] > 0
    assert document[1]["verdict"] == "erratum"


def test_the_same_seed_gives_the_same_evidence():
    first = json.loads(run("claims", "--only", "uniform.moments", "--json", "--examples", "2",
                           "--seed", "9").stdout)
    second = json.loads(run("claims", "--only", "uniform.moments", "--json", "--examples", "2",
                            "--seed", "9").stdout)
    for entry in (first[0], second[0]):
        entry.pop("seconds")
    assert first == second


@pytest.mark.slow
def test_every_claim_gets_a_computed_verdict():
    """The whole registry, as ``python -m verify claims --json`` runs it (2 examples each).

    The expected verdicts follow from the textbook's mathematics; each is computed by the
    run. ``linear.variance`` holds only with conditions (zero-mean inputs).
    """
    result = run("claims", "--json", "--examples", "2")
    assert result.returncode == 0, result.stderr
    verdicts = {entry["id"]: entry["verdict"] for entry in json.loads(result.stdout)}
    assert verdicts.keys() == CLAIMS.keys()
    expected = {claim_id: "holds" for claim_id in CLAIMS}
    expected["linear.variance"] = "holds-with-conditions"
    expected["he.variance.erratum"] = expected["glorot.uniform-bound.erratum"] = "erratum"
    assert verdicts == expected
