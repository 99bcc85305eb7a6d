"""``history``: releases installed beside the environment, run, bisected and summarized.

The end-to-end tests run ``python -m verify history`` on ``fakeinit``, a fake library whose
wheels the tests write into a local wheelhouse (``tests/fake_releases.py``), with
``--no-index``: no registry is asked. Its releases: 1.0.0 conforms to He normal, 1.1.0
does not import, 1.2.0 draws LeCun's law (half He's variance). The expectations come from
that construction, not from the code under test.

The bisection and the summary are tested on releases made up in memory.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from tests.fake_releases import confounded_wheelhouse, history_arguments, wheelhouse
from verify.cli import main
from verify.history.bisect import explore
from verify.history.install import Installed
from verify.history.releases import Selection, latest_patches, parse_selection
from verify.history.runner import Outcome, Ran
from verify.history.summary import Release, changes

ROOT = Path(__file__).resolve().parent.parent


def history(*arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "verify", "history", *arguments],
                          capture_output=True, text=True, env=environment, timeout=600,
                          cwd=ROOT)


def installed_distributions() -> list[dict]:
    listed = subprocess.run([sys.executable, "-m", "pip", "list", "--format=json",
                             "--disable-pip-version-check"], capture_output=True, text=True,
                            check=True)
    return json.loads(listed.stdout)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """The wheelhouse, the cache, and the JSON of one history run over all three releases,
    with the installed distributions listed before and after it."""
    root = tmp_path_factory.mktemp("history")
    house, cache = wheelhouse(root / "wheels"), root / "cache"
    before = installed_distributions()
    done = history(*history_arguments(house, cache), "--json")
    after = installed_distributions()
    return {"house": house, "cache": cache, "done": done, "before": before, "after": after,
            "document": json.loads(done.stdout) if done.returncode == 0 else None}


def test_history_runs_every_release_and_exits_0_with_a_deviation(fake):
    assert fake["done"].returncode == 0, fake["done"].stderr
    releases = {r["version"]: r for r in fake["document"]["releases"]}
    assert list(releases) == ["1.0.0", "1.1.0", "1.2.0"]
    assert [r["chosen"] for r in releases.values()] == ["minor"] * 3
    assert releases["1.0.0"]["entries"]["fakeinit.init:he"]["verdict"] == "pass"
    assert releases["1.2.0"]["entries"]["fakeinit.init:he"]["verdict"] == "fail"


def test_the_broken_release_is_recorded_with_its_reason(fake):
    broken = fake["document"]["releases"][1]
    assert broken["version"] == "1.1.0"
    assert broken["status"] == "import failed"
    assert "fakeinit_native" in broken["reason"]
    assert broken["entries"] == {}


def test_the_change_names_the_first_bad_and_the_last_good_release(fake):
    [change] = fake["document"]["changes"]
    assert change["deviation"] == "fakeinit.init:he"
    assert change["change"] == "appeared"
    assert (change["first_bad"], change["last_good"]) == ("1.2.0", "1.0.0")
    assert change["exact"] and not change["confounded"]
    assert [v for v, _ in change["unknown_between"]] == ["1.1.0"]
    # LeCun's law has half the variance He claims
    assert "variance ratio 0.5" in change["detail"] or "variance ratio 0.4" in change["detail"]
    [row] = fake["document"]["deviations"]
    assert (row["present_in"], row["absent_in"], row["unknown_in"]) == (
        ["1.2.0"], ["1.0.0"], ["1.1.0"])


def test_the_users_environment_is_unchanged(fake):
    assert fake["before"] == fake["after"]
    assert importlib.util.find_spec("fakeinit") is None
    # the releases are in the cache, one directory each
    assert sorted(p.name for p in fake["cache"].iterdir()) == [
        "fakeinit-1.0.0", "fakeinit-1.1.0", "fakeinit-1.2.0"]


TIMINGS_AND_PATHS = ("seconds", "install_seconds", "cache")


def _without_timings_and_paths(value):
    if isinstance(value, dict):
        return {k: _without_timings_and_paths(v) for k, v in value.items()
                if k not in TIMINGS_AND_PATHS}
    if isinstance(value, list):
        return [_without_timings_and_paths(v) for v in value]
    return value


def test_an_embedded_cluster_gives_the_in_process_history(fake, tmp_path):
    """The three releases side by side on two local workers, each installing into a fresh
    cache, as the in-process run did."""
    done = history(*history_arguments(fake["house"], tmp_path / "cache"), "--workers", "2",
                   "--json")
    assert done.returncode == 0, done.stderr
    assert "3 units on 2 Dask workers (embedded LocalCluster)" in done.stderr
    assert _without_timings_and_paths(json.loads(done.stdout)) == \
        _without_timings_and_paths(fake["document"])


def test_an_existing_cluster_gives_the_in_process_history(fake, cluster, tmp_path):
    """The same on a real scheduler and two workers, which install into the cache given
    (the same path on every host) and read the wheelhouse by its absolute path."""
    done = history(*history_arguments(fake["house"], tmp_path / "cache"), "--scheduler",
                   cluster["address"], "--json")
    assert done.returncode == 0, done.stderr
    assert f"3 units on 2 Dask workers at {cluster['address']}" in done.stderr
    assert _without_timings_and_paths(json.loads(done.stdout)) == \
        _without_timings_and_paths(fake["document"])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "fakeinit-1.0.0", "fakeinit-1.1.0", "fakeinit-1.2.0"]


def test_resume_takes_the_stored_releases(fake, tmp_path):
    cache = tmp_path / "cache"
    first = history(*history_arguments(fake["house"], cache), "--json")
    assert first.returncode == 0, first.stderr
    again = history(*history_arguments(fake["house"], cache), "--resume", "--json")
    assert again.returncode == 0, again.stderr
    assert "3 of 3 units unchanged since the stored run: not run again" in again.stderr
    assert "[1/" not in again.stderr  # nothing ran
    assert json.loads(again.stdout)["releases"] == json.loads(first.stdout)["releases"]
    manifest = json.loads((tmp_path / "cache-runs" / "run.json").read_text())
    assert manifest["status"] == "complete"  # after the last round, not after each
    assert manifest["units"] == len(json.loads(first.stdout)["releases"])


def test_the_store_is_complete_only_after_the_last_round(fake, tmp_path):
    cache = tmp_path / "cache"  # two rounds: 1.0.0 and 1.2.0, then 1.1.0 between them
    done = history(*history_arguments(fake["house"], cache), "--versions", "1.0.0",
                   "1.2.0", "--json")
    assert done.returncode == 0, done.stderr
    releases = json.loads(done.stdout)["releases"]
    assert [r["chosen"] for r in releases] == ["explicit", "bisect", "explicit"]
    manifest = json.loads((tmp_path / "cache-runs" / "run.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["units"] == len(releases)


def test_the_text_output_tells_when_the_deviation_appeared(fake):
    done = history(*history_arguments(fake["house"], fake["cache"]), "--no-bisect")
    assert done.returncode == 0, done.stderr
    assert "fakeinit.init:he: appeared in 1.2.0 (last good 1.0.0)" in done.stdout
    assert "1.1.0: import failed: ModuleNotFoundError" in done.stdout
    assert "fakeinit 1.0.0 (minor, #1): cached" in done.stderr  # the cache is reused


def test_a_release_that_cannot_be_installed_is_recorded_with_pips_reason(fake):
    done = history(*history_arguments(fake["house"], fake["cache"]), "--versions", "1.0.0",
                   "9.9.0", "--json")
    assert done.returncode == 0, done.stderr
    releases = {r["version"]: r for r in json.loads(done.stdout)["releases"]}
    assert releases["1.0.0"]["cached"] and releases["1.0.0"]["status"] == "ran"
    assert releases["9.9.0"]["status"] == "install failed"
    assert "fakeinit==9.9.0" in releases["9.9.0"]["reason"]
    assert "\n" not in releases["9.9.0"]["reason"]


def test_a_change_where_another_distribution_moved_is_confounded(tmp_path):
    house = confounded_wheelhouse(tmp_path / "wheels")
    done = history(*history_arguments(house, tmp_path / "cache"), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    releases = {r["version"]: r for r in document["releases"]}
    assert releases["2.0.0"]["pins"] == {}
    assert releases["2.1.0"]["pins"] == {"fakedep": {"version": "1.0.0", "base": None}}
    [change] = document["changes"]
    assert (change["first_bad"], change["last_good"]) == ("2.1.0", "2.0.0")
    assert change["confounded"] and change["moved"] == {"fakedep": [None, "1.0.0"]}
    assert importlib.util.find_spec("fakedep") is None


@pytest.mark.parametrize("arguments, message", [
    (["nosuchlibrary"], "unknown library 'nosuchlibrary'"),
    (["transformers"], "--only"),
    (["keras", "--only", "jax:he_normal"], "not an entry of keras"),
    (["keras", "--versions", ">=3", "3.1"], "one specifier"),
    (["keras", "--versions", "three"], "neither a release"),
    (["keras", "--scheme", "he"], "give --target too"),
    (["fakeinit", "--target", "fakeinit.init:he"], "--scheme and --dist"),
    (["fakeinit", "--target", "fakeinit", "--scheme", "he", "--dist", "normal"],
     "package.module:attribute"),
    (["fakeinit", "--target", "fakeinit.init:he", "--scheme", "he", "--dist", "normal",
      "--kwargs", "{"], "--kwargs is not valid JSON"),
    (["keras", "--max-releases", "0"], "positive integer"),
    (["transformers", "--only", "GPT2Model", "--dtype", "complex64"], "audits build models in"),
])
def test_bad_usage_exits_2_with_one_line_and_writes_nothing(arguments, message, tmp_path,
                                                            capsys):
    cache = tmp_path / "cache"
    assert main(["history", *arguments, "--cache", str(cache), "--no-index"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not cache.exists()


def test_versions_that_match_no_release_on_the_index_are_bad_usage(fake, tmp_path):
    cache = tmp_path / "cache"
    done = history(*history_arguments(fake["house"], cache), "--versions", ">=5")
    assert done.returncode == 2
    assert "no release of fakeinit on the index matches '>=5' (it has 1.0.0 .. 1.2.0)" \
        in done.stderr
    assert not cache.exists()


def test_a_library_missing_from_the_index_is_bad_usage(tmp_path):
    done = history("fakeinit", "--target", "fakeinit.init:he", "--scheme", "he", "--dist",
                   "normal", "--no-index", "--find-links", str(tmp_path), "--cache",
                   str(tmp_path / "cache"))
    assert done.returncode == 2
    assert "the index has no installable release of fakeinit" in done.stderr
    assert not (tmp_path / "cache").exists()


# --- the releases chosen --------------------------------------------------------------

def test_versions_take_one_specifier_or_explicit_releases():
    assert parse_selection([">=3.0,<3.16"]).specifier.contains("3.15.1")
    assert not parse_selection([">=3.0,<3.16"]).specifier.contains("3.16.0")
    assert parse_selection(["3.2.0", "3.1.1"]).explicit == (Version("3.1.1"), Version("3.2.0"))
    assert parse_selection(None) == Selection()
    for bad in ([">=3", "<4"], ["3.1", ">=3"], ["latest"]):
        with pytest.raises(ValueError):
            parse_selection(bad)


def test_the_latest_patch_of_each_minor_release_is_where_a_run_starts():
    releases = [Version(v) for v in ("3.0.0", "3.0.5", "3.1.0", "3.1.1", "3.2.0", "4.0.0")]
    assert latest_patches(releases) == [Version(v) for v in ("3.0.5", "3.1.1", "3.2.0",
                                                             "4.0.0")]


# --- bisection and the summary, on releases made up in memory --------------------------

CANDIDATES = [Version(f"1.{minor}.0") for minor in range(10)]


def made_up(version: Version, chosen: str, *, bad: set[str], pins=None, own=None,
            broken=False) -> Release:
    """A release whose entry ``e`` deviates when ``version`` is in ``bad``."""
    installed = Installed(version=str(version), path=Path("/nowhere"), pins=pins or {},
                          base={name: "1" for name in pins or {}}, own=own or {})
    if broken:
        return Release(version=version, chosen=chosen, installed=installed,
                       ran=Ran(status="import failed", reason="ImportError: no"))
    deviating = str(version) in bad
    outcome = Outcome(verdict="fail" if deviating else "pass",
                      deviations={"": "variance ratio 0.5"} if deviating else {})
    return Release(version=version, chosen=chosen, installed=installed,
                   ran=Ran(status="ran", outcomes={"e": outcome}))


def test_bisection_finds_the_first_bad_release_in_few_tries():
    bad = {f"1.{m}.0" for m in range(6, 10)}
    tried = []

    def evaluate(version, chosen):
        tried.append(version)
        return made_up(version, chosen, bad=bad)

    releases, left = explore([CANDIDATES[0], CANDIDATES[-1]], CANDIDATES, evaluate,
                             chosen="minor")
    [change] = changes(releases, CANDIDATES)
    assert (str(change.previous), str(change.release)) == ("1.5.0", "1.6.0")
    assert change.change == "appeared" and change.exact and not left
    assert len(tried) <= 2 + 3  # 8 releases between the ends: three halvings
    assert len(set(tried)) == len(tried)


def test_bisection_steps_over_a_broken_release():
    bad = {f"1.{m}.0" for m in range(5, 10)}

    def evaluate(version, chosen):
        return made_up(version, chosen, bad=bad, broken=str(version) == "1.4.0")

    releases, _ = explore([CANDIDATES[0], CANDIDATES[-1]], CANDIDATES, evaluate,
                          chosen="minor")
    [change] = changes(releases, CANDIDATES)
    assert (str(change.previous), str(change.release)) == ("1.3.0", "1.5.0")
    assert change.exact and [v for v, _ in change.unknown_between] == ["1.4.0"]


def test_bisection_stops_at_the_budget_and_says_what_is_left():
    bad = {f"1.{m}.0" for m in range(6, 10)}
    releases, left = explore([CANDIDATES[0], CANDIDATES[-1]], CANDIDATES,
                             lambda v, c: made_up(v, c, bad=bad), chosen="minor", budget=3)
    assert len(releases) == 3 and left
    [change] = changes(releases, CANDIDATES)
    assert not change.exact


def test_a_deviation_that_comes_and_goes_gives_two_changes():
    bad = {"1.3.0", "1.4.0"}
    releases, _ = explore(CANDIDATES[::3], CANDIDATES, lambda v, c: made_up(v, c, bad=bad),
                          chosen="minor")
    found = [(c.change, str(c.previous), str(c.release)) for c in changes(releases, CANDIDATES)]
    assert found == [("appeared", "1.2.0", "1.3.0"), ("disappeared", "1.4.0", "1.5.0")]


def test_the_librarys_own_distributions_do_not_confound_but_other_pins_do():
    before = made_up(Version("1.0.0"), "minor", bad=set(), own={"jax": "1.0.0",
                                                                "jaxlib": "1.0.0"})
    after = made_up(Version("1.1.0"), "minor", bad={"1.1.0"}, own={"jax": "1.1.0",
                                                                   "jaxlib": "1.1.0"})
    [change] = changes([before, after], [before.version, after.version])
    assert not change.confounded
    pinned = made_up(Version("1.1.0"), "minor", bad={"1.1.0"}, pins={"numpy": "1.26.4"})
    [change] = changes([before, pinned], [before.version, pinned.version])
    assert change.confounded
    assert change.moved == {"numpy": (importlib.metadata.version("numpy"), "1.26.4")}
    assert change.describe().endswith(
        f"confounded: numpy {importlib.metadata.version('numpy')} -> 1.26.4")


def test_a_release_whose_import_crashes_the_process_is_recorded_not_fatal(tmp_path):
    from verify.history.runner import Plan, run_release

    (tmp_path / "crashy").mkdir()
    (tmp_path / "crashy" / "__init__.py").write_text("import os\nos.abort()\n")
    ran = run_release(Plan(library="crashy", requirement="crashy", module="crashy",
                           mode="check", entries=("crashy:f",)), tmp_path)
    assert ran.status == "import failed"
    assert "signal 6" in ran.reason and ran.outcomes == {}


def test_a_release_shadowed_by_the_base_environment_is_not_taken_for_it(tmp_path):
    from verify.history.runner import Plan, run_release

    ran = run_release(Plan(library="numpy", requirement="numpy", module="numpy"), tmp_path)
    assert ran.status == "import failed" and "not from the release's directory" in ran.reason


def test_max_releases_leaves_out_the_oldest_starting_releases_and_says_so(fake):
    done = history(*history_arguments(fake["house"], fake["cache"]), "--max-releases", "1",
                   "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [r["version"] for r in document["releases"]] == ["1.2.0"]
    assert document["left_out"] == ["1.0.0", "1.1.0"]
    assert "leaving out the older starting releases 1.0.0 .. 1.1.0 (2)" in done.stderr
