"""``python -m verify report``: what it writes, how it fails, and that an interrupted run
leaves the previous report alone. (Rendering in a browser: test_report_browser.py.)"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verify import report
from verify.cli import main
from verify.figures import FIGURES
from verify.report import document, models
from verify.report.sections import QUICK_CLAIMS

TRANSFORMERS = importlib.util.find_spec("transformers") is not None
ARGS = ["report", "--quick", "--libraries", "torch", "--seed", "7"]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def build(out: Path) -> tuple[str, str]:
    """A quick report, run as a user runs it: ``python -m verify report ...``. (In-process
    under pytest it once ran several times slower: ``torch.manual_seed`` recorded a stack
    trace per call, now replaced by ``torch.default_generator.manual_seed``, and two BLAS
    and OpenMP threads per xdist worker spun on 2 cores, see ``verify.threads``.)"""
    done = subprocess.run([sys.executable, "-m", "verify", *ARGS, "--out", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str, str]:
    """One quick report, shared by the tests of this module."""
    out = tmp_path_factory.mktemp("report") / "reports"
    stdout, stderr = build(out)
    return out, stdout, stderr


def test_writes_every_file(built):
    out, _, _ = built
    doc = json.loads((out / "report.json").read_text())
    assert {p.name for p in out.iterdir()} == {"index.html", "report.md", "report.json",
                                               "figures", "runs"}  # runs/: --store
    files = {p.name for p in (out / "figures").iterdir()}
    assert files == {Path(meta["file"]).name for meta in doc["figures"].values()}
    for name in ("claims-evidence", "depth-second-moments", "residual-gradient-ratio",
                 "finite-width-fluctuations", "qq-distributions", "size-and-power",
                 "peer-comparison", *(["models-depth"] if TRANSFORMERS else [])):
        assert name in doc["figures"], name
    for path in (out / "figures").iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_records_seed_versions_settings_and_timings(built):
    out, _, _ = built
    doc = json.loads((out / "report.json").read_text())  # strict JSON: no NaN
    assert doc["seed"] == 7
    assert doc["settings"]["quick"] is True and doc["settings"]["seed"] == 7
    assert doc["versions"]["torch"] != "not installed"
    assert [s["name"] for s in doc["sections"]] == ["claims", "depth figures", "conformance",
                                                    "deviations", "statistics", "models"]
    assert all(s["seconds"] > 0 for s in doc["sections"])
    # every time is rounded to 0.01 s, so the sum of the sections may pass the total by the
    # rounding of each (0.005 s apiece), never by more
    slack = 0.005 * (len(doc["sections"]) + 1)
    assert doc["wall_seconds"] >= sum(s["seconds"] for s in doc["sections"]) - slack
    ids = [c["id"] for c in doc["claims"]]
    assert set(ids) | set(doc["claims_not_run"]) == set(report.sections.claims_module.CLAIMS)
    # the errata are attached to the claims they correct
    he = next(c for c in doc["claims"] if c["id"] == "he.variance")
    assert he["errata"] and "Kaiming" in " ".join(he["errata"])
    rows = doc["conformance"]["rows"]
    assert rows and all(r["library"] == "torch" for r in rows)
    fw = doc["statistics"]["family_wise"]
    assert fw["checks"] == fw["claim_checks"] + fw["conformance_checks"] > 0
    assert fw["family_wise_bound"] == pytest.approx(
        fw["checks"] * fw["per_check_bound_with_resampling"])


def test_every_number_in_the_tables_comes_from_the_json(built):
    """The key numbers shown for a claim are the JSON's, not retyped."""
    out, _, _ = built
    doc = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    for claim in doc["claims"]:
        key = claim["key_numbers"]
        if key is not None:
            assert f"n = {key['n']:,}" in markdown, claim["id"]
    assert f"{len(doc['claims'])} claims of the textbook" in markdown


def test_markdown_and_html_hold_the_tables_and_figures(built):
    out, _, _ = built
    doc = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    page = (out / "index.html").read_text()
    for name, meta in doc["figures"].items():
        assert f"]({meta['file']})" in markdown
        assert f'<figure id="{name}">' in page
    assert page.count('src="data:image/png;base64,') == len(doc["figures"])
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page must not fetch anything"
    for anchor in ("claims-table", "conformance-overview", "conformance-matrix", "size-table",
                   "power-table", "models-table", "versions", "timings"):
        assert f'id="{anchor}"' in page
    assert markdown.count("| he.variance |") + markdown.count("| `he.variance` |") == 1


def test_prints_a_summary_table(built):
    _, stdout, stderr = built
    lines = stdout.splitlines()
    assert lines[0].split() == ["section", "items", "result", "seconds"]
    for section in ("claims", "depth figures", "conformance", "deviations", "statistics",
                    "models", "write", "total"):
        assert any(line.startswith(section) for line in lines), section
    models_line = next(line for line in lines if line.startswith("models"))
    assert "fan-mismatch" in models_line and "layers" in models_line
    assert "[5/6] statistics" in stderr and "[6/6] models" in stderr  # progress, per section
    assert "he.variance" in stderr  # ... and per item


def test_the_models_section(built):
    """The quick run audits one torch layer and GPT-2: verdicts, findings, replay lines and
    the depth profile in report.json; the tables in report.md and index.html."""
    out, _, _ = built
    doc = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    page = (out / "index.html").read_text()
    rows = {row["target"]: row for row in doc["models"]["rows"]}
    expected = [models.QUICK_LAYER, *([models.QUICK_ARCHITECTURE] if TRANSFORMERS else [])]
    assert sorted(rows) == sorted(expected)
    assert doc["models"]["examples"] == 0  # quick: no configs explored
    conv = rows[models.QUICK_LAYER]
    assert conv["verdict"] == "fail" and conv["builds"] > 2 and conv["seconds"] > 0
    assert {f["kind"] for f in conv["findings"]} == {"fan-mismatch"}
    assert all(f["blocking"] and f["replay"] is None for f in conv["findings"])
    assert not any(f["law_unchanged"] for f in conv["findings"])  # fan-in off the wrong axis
    assert conv["replay"] == (f"python -m verify audit {models.QUICK_LAYER} --kwargs "
                              "'" + json.dumps(conv["kwargs"], sort_keys=True) + "' --seed 7")
    # the tables: the targets, then one table of findings per target with findings
    assert "## Models" in markdown and "| target | verdict | builds | findings by kind |" in \
        markdown
    assert f"### {models.QUICK_LAYER}" in markdown and conv["replay"] in markdown
    assert f'id="{conv["anchor"]}-findings"' in page and 'id="models-table"' in page
    assert f'href="#{conv["anchor"]}"' in page
    summary = document.summary_blocks(doc)
    assert any(getattr(b, "text", "").startswith("Models: ") for b in summary)
    assert any(s["name"] == "models" for s in doc["sections"])
    if not TRANSFORMERS:
        return
    gpt2 = rows[models.QUICK_ARCHITECTURE]
    assert gpt2["verdict"] == "pass" and gpt2["in_figure"]
    assert {f["kind"] for f in gpt2["findings"]} == {"doc-mismatch"}
    assert not any(f["blocking"] for f in gpt2["findings"])
    assert "doc-mismatch (informational)" in markdown
    # GPT-2's residual projections sit on initializer_range / sqrt(2 n_layer): 2 layers
    projections = [p for p in gpt2["profile"] if p["pattern"].endswith("c_proj.weight")]
    assert len(projections) == 4 and all(p["depth_law"] for p in projections)
    for point in projections:
        low, high = point["std_interval"]
        assert point["expected_std"] == pytest.approx(0.02 / 2)
        assert low <= point["expected_std"] <= high, point
    assert doc["models"]["figure"] == "models-depth"
    assert 'href="#models-depth"' in page


def test_rerendering_from_the_json_gives_the_same_markdown(built):
    out, _, _ = built
    doc = json.loads((out / "report.json").read_text())
    blocks = document.blocks(doc)
    again = report.render.markdown(document.TITLE, blocks)
    assert (out / "report.md").read_text().startswith(again)


def test_interrupted_run_leaves_the_previous_report(built, tmp_path, monkeypatch):
    previous, _, _ = built
    out = tmp_path / "reports"
    shutil.copytree(previous, out)
    (out / "measurements.json").write_text("{}")
    def report_files():  # runs/ is the results store beside it (--store): not the report
        return {p.relative_to(out): p.read_bytes() for p in out.rglob("*")
                if p.is_file() and p.relative_to(out).parts[0] != "runs"}

    before = report_files()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "run_conformance", interrupted)
    status, stdout, stderr = run_cli([*ARGS, "--out", str(out)])
    assert status == 130
    assert stdout == ""
    assert "interrupted: nothing was written" in stderr and "intact" in stderr
    assert report_files() == before  # and no staging directory left behind
    assert not list(tmp_path.glob("**/.report-*"))
    store = out / "runs" / "report"  # the claims, finished before the Ctrl-C, are kept
    assert json.loads((store / "run.json").read_text())["status"] == "interrupted"
    assert len(list((store / "units").glob("*.json"))) == len(QUICK_CLAIMS) + len(FIGURES)
    assert "--resume takes them" in stderr


def test_a_new_report_replaces_the_old_one_in_whole(built, tmp_path):
    previous, _, _ = built
    out = tmp_path / "reports"
    shutil.copytree(previous, out)
    (out / "figures" / "stale.png").write_bytes(b"old")
    (out / ".gitkeep").write_text("")
    staging = tmp_path / "reports" / ".report-x"
    shutil.copytree(previous, staging, ignore=shutil.ignore_patterns(".report-*", "runs"))
    (staging / "report.md").write_text("new")
    report.publish(staging, out)
    assert (out / "report.md").read_text() == "new"
    assert not (out / "figures" / "stale.png").exists()  # the figure directory is replaced
    assert (out / ".gitkeep").exists()  # files that are not the report's stay
    assert not staging.exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".old")] == []


def test_publish_into_a_new_directory_is_one_rename(built, tmp_path):
    previous, _, _ = built
    staging = tmp_path / ".report-y"
    shutil.copytree(previous, staging)
    out = tmp_path / "a" / "b" / "reports"
    report.publish(staging, out)
    assert (out / "index.html").exists() and not staging.exists()


RUN_DEPENDENT = ("seconds", "wall_seconds", "generation_seconds", "started", "command",
                 "executor")
"""What a report records about its run, not its results: times, the command (its --out)
and where the items ran."""


def _results(value):
    if isinstance(value, dict):
        return {k: _results(v) for k, v in value.items() if k not in RUN_DEPENDENT}
    if isinstance(value, list):
        return [_results(v) for v in value]
    return value


def test_an_embedded_cluster_gives_the_in_process_report(built, tmp_path):
    """The quick report's items (claims, depth figures, catalog entries, measurements,
    models) on two local workers: the same JSON as in this process, and the same figures
    byte for byte."""
    alone, _, _ = built
    out = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "verify", *ARGS, "--out", str(out),
                           "--workers", "2"], capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "14 units on 2 Dask workers (embedded LocalCluster)" in done.stderr
    embedded = json.loads((out / "report.json").read_text())
    assert embedded["settings"]["executor"] == {"workers": 2, "scheduler": None}
    assert _results(embedded) == _results(json.loads((alone / "report.json").read_text()))
    figures = sorted(p.name for p in (alone / "figures").iterdir())
    assert figures == sorted(p.name for p in (out / "figures").iterdir())
    for name in figures:
        assert (out / "figures" / name).read_bytes() == \
            (alone / "figures" / name).read_bytes(), name


def test_resume_takes_every_stored_item_and_gives_the_same_report(built, tmp_path):
    """Each item's result went into the store (OUT/runs/report) as it ended; --resume
    with that store runs none of them again, and the report is the same, figures
    included."""
    alone, _, _ = built
    store = alone / "runs" / "report"
    assert json.loads((store / "run.json").read_text())["status"] == "complete"
    out = tmp_path / "again"
    done = subprocess.run([sys.executable, "-m", "verify", *ARGS, "--out", str(out),
                           "--store", str(store), "--resume"], capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    unchanged = re.findall(r"(\d+) of (\d+) units unchanged since the stored run",
                           done.stderr)
    assert len(unchanged) >= 5 and all(a == b for a, b in unchanged), done.stderr
    again = json.loads((out / "report.json").read_text())
    assert _results(again) == _results(json.loads((alone / "report.json").read_text()))
    for path in (alone / "figures").iterdir():
        assert (out / "figures" / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("argv, message", [
    (["report", "--libraries", "caffe"], "invalid choice"),
    (["report", "--seed", "-1"], "non-negative"),
    (["report", "--timeout", "0"], "timeout"),
])
def test_bad_options_are_one_line_and_exit_2(argv, message, tmp_path):
    status, stdout, stderr = run_cli([*argv, "--out", str(tmp_path / "r")])
    assert status == 2 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("error:") and message in stderr
    assert not (tmp_path / "r").exists()


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("mine")
    status, stdout, stderr = run_cli(["report", "--quick", "--out", str(target)])
    assert status == 2 and stdout == ""
    assert stderr.startswith("error: --out") and "directory" in stderr
    assert target.read_text() == "mine"
    assert list(tmp_path.iterdir()) == [target]


def test_readme_excerpt_is_the_reports(built, tmp_path):
    from verify.report import readme

    out, _, _ = built
    doc = json.loads((out / "report.json").read_text())
    target = tmp_path / "README.md"
    target.write_text(f"# x\n\nbefore\n{readme.START}\nstale excerpt\n{readme.END}\nafter\n")
    readme.update(target, out)
    text = target.read_text()
    assert text.startswith("# x\n\nbefore\n") and text.endswith(f"{readme.END}\nafter\n")
    assert "stale excerpt" not in text
    for row in doc["conformance"]["rows"]:
        assert f"`{row['target'].split(':', 1)[-1]}`" in text
    assert (tmp_path / "reports" / "readme" / f"{readme.FIGURE}.png").read_bytes() == \
        (out / doc["figures"][readme.FIGURE]["file"]).read_bytes()
    readme.update(target, out)  # idempotent
    assert target.read_text() == text


def test_readme_without_markers_is_an_error(built, tmp_path):
    from verify.report import readme

    out, _, _ = built
    target = tmp_path / "README.md"
    target.write_text("# no markers\n")
    assert readme.main([str(out), "--readme", str(target)]) == 2
    assert target.read_text() == "# no markers\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_a_bar_per_section():
    from verify.report.progress import Progress

    stream = _Terminal()
    progress = Progress(2, stream)
    progress.start("claims", 4)
    progress.item("linear.mean")
    progress.done("linear.mean", "holds")
    progress.fraction(3, 10)
    progress.finish("1 holds")
    text = stream.getvalue()
    assert "\r\033[K[1/2] claims [######------------------] 1/4" in text
    assert "linear.mean" in text
    assert text.endswith("[1/2] claims: 1 holds (0:00)\n")


def test_progress_in_a_log_is_one_line_per_item():
    from verify.report.progress import Progress

    stream = io.StringIO()
    progress = Progress(1, stream)
    progress.start("conformance", 2)
    for name in ("torch:a", "torch:b"):
        progress.item(name)
        for done in range(1, 101):
            progress.fraction(done, 100)
        progress.done(name, "pass")
    progress.finish("2 pass")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0] == "[1/1] conformance: 2 items"
    assert sum(line.startswith("    [") for line in lines) == 2
    # the first step, then every tenth
    assert sum("torch:a: " in line and "/100" in line for line in lines) == 11
    assert lines[-1] == "[1/1] conformance: 2 pass (0:00)"
