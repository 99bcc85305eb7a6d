"""``python -m verify report``: the main job.

Runs the sections (claims, depth figures, conformance, deviations, statistics, models) with
progress on stderr, then writes ``index.html`` (one self-contained page),
``report.md``, ``report.json`` (every number, with the seed, versions, settings and
timings) and ``figures/*.png``. Everything is written into a staging directory first
and moved into place at the end, with Ctrl-C held off for the few milliseconds the
move takes: an interrupted run leaves the previous report as it was.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from verify.execute import session
from verify.report import document, render
from verify.report.models import run_models
from verify.report.progress import Progress
from verify.report.sections import (
    STORE,
    Section,
    Settings,
    family_wise,
    run_claims,
    run_conformance,
    run_depth,
    run_deviations,
    run_statistics,
    timed,
)
from verify.versions import versions

__all__ = ["FILES", "Settings", "run"]

FILES = ("index.html", "report.md", "report.json")
SECTIONS = 6


def _library_versions(libraries: list[str]) -> dict[str, str]:
    from importlib import metadata

    distributions = {"torch": "torch", "jax": "jax", "flax": "flax", "keras": "keras",
                     "mlx": "mlx", "sklearn": "scikit-learn", "tf_keras": "tf-keras",
                     "haiku": "dm-haiku", "paddle": "paddlepaddle"}
    found = {}
    if "keras" in libraries or "tf_keras" in libraries:
        libraries = [*libraries, "tensorflow"]  # a Keras backend, and tf-keras's engine
    for library in libraries:
        try:
            found[distributions.get(library, library)] = metadata.version(
                distributions.get(library, library))
        except metadata.PackageNotFoundError:
            continue
    return found


def staging_parent(out: Path) -> Path:
    """Where the staging directory goes: ``out`` if it exists, else its nearest existing
    ancestor (the same file system, so the final move is a rename)."""
    return next(p for p in (out, *out.parents) if p.exists()) if not out.exists() else out


@contextmanager
def _no_interrupt():
    """Hold Ctrl-C off while the report moves into place (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda *args: received.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def publish(staging: Path, out: Path) -> None:
    """Move the staged report into ``out`` in whole: the files replace their namesakes,
    the figure directory replaces the old one (stale figures go with it). Files of
    ``out`` that are not part of a report are left alone."""
    with _no_interrupt():
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, out)
            return
        old = out / f".old-figures-{os.getpid()}"
        if (out / "figures").exists():
            os.rename(out / "figures", old)
        os.rename(staging / "figures", out / "figures")
        for name in FILES:
            os.replace(staging / name, out / name)
        shutil.rmtree(old, ignore_errors=True)
        os.rmdir(staging)


def _write(staging: Path, doc: dict) -> None:
    blocks = document.blocks(doc)
    (staging / "report.md").write_text(
        render.markdown(document.TITLE, blocks) + f"\n_{document.subtitle(doc)}_\n")
    (staging / "index.html").write_text(
        render.page(document.TITLE, document.subtitle(doc), blocks, staging))
    with open(staging / "report.json", "w") as stream:
        json.dump(doc, stream, indent=2, default=str, allow_nan=False)
        stream.write("\n")


def _finite(value):
    """NaN and infinities as None: report.json is strict JSON."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def run(out: Path, settings: Settings, *, progress: Progress | None = None,
        command: str = "python -m verify report", store=None) -> dict:
    """Run every section and publish the report in ``out``; return ``report.json``'s
    document. On any exception (Ctrl-C included) nothing in ``out`` changes. ``store`` (a
    :class:`verify.execute.store.Store`, or None) keeps each item's result as it ends, for
    a later run's ``--resume``."""
    progress = progress or Progress(SECTIONS)
    parent = staging_parent(out)
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=parent))
    try:
        figures = staging / "figures"
        figures.mkdir()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # what mkdir would have given, not mkdtemp's 0700
        started = datetime.now(timezone.utc)
        start = time.perf_counter()
        sections: list[Section] = []

        def finish(section: Section) -> Section:
            progress.finish(section.summary)
            sections.append(section)
            return section

        stored = STORE.set(store)
        try:
            with session(settings.executor):  # one cluster for every section
                claims = finish(timed(run_claims, settings, progress, figures))
                depth = finish(timed(run_depth, settings, progress, figures))
                conformance = finish(timed(run_conformance, settings, progress, figures))
                rows = conformance.data["rows"]
                deviations = finish(timed(run_deviations, settings, progress, figures, rows))
                statistics = finish(timed(run_statistics, settings, progress, figures))
                models = finish(timed(run_models, settings, progress, figures))
        except KeyboardInterrupt:
            if store is not None:  # the finished items stay, for --resume
                store.mark("interrupted", sections=len(sections))
            raise
        finally:
            STORE.reset(stored)
        if store is not None:
            store.mark("complete", sections=len(sections))
        written = {}
        for section in (claims, depth, deviations, statistics, models):
            written.update(section.figures)
        statistics.data["family_wise"] = family_wise(claims.data["claims"], rows)
        doc = {
            "title": document.TITLE,
            "seed": settings.seed,
            "started": started.isoformat(timespec="seconds"),
            "command": command,
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
                       f"{platform.system()} {platform.release()}",
            "versions": {**versions(), **_library_versions(conformance.data["libraries"])},
            "settings": settings.to_dict(),
            "claims": claims.data["claims"],
            "claims_not_run": claims.data["not_run"],
            "conformance": conformance.data,
            "deviations": deviations.data,
            "statistics": statistics.data,
            "depth": depth.data,
            "models": models.data,
            "figures": written,
            "sections": [{"name": s.name, "items": s.items, "summary": s.summary,
                          "seconds": s.seconds} for s in sections],
        }
        if settings.zoo is not None:  # a stored run, read: the report never runs the zoo
            from verify.report.zoo import load

            doc["zoo"] = load(settings.zoo)
        doc["wall_seconds"] = round(time.perf_counter() - start, 2)
        doc = _finite(doc)
        _write(staging, doc)
        publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return doc


def summary_table(doc: dict, out: Path, seconds: float) -> str:
    """The table printed at the end of a run."""
    rows = [(s["name"], str(s["items"]), s["summary"], f"{s['seconds']:.0f}")
            for s in doc["sections"]]
    figures = len(doc["figures"])
    rows.append(("write", str(len(FILES) + figures),
                 f"{out / 'index.html'}, report.md, report.json, {figures} figures", ""))
    rows.append(("total", "", "", f"{seconds:.0f}"))
    widths = [max(len(r[i]) for r in [("section", "items", "result", "seconds"), *rows])
              for i in range(4)]

    def line(r):
        return f"{r[0]:{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:{widths[2]}}  {r[3]:>{widths[3]}}"

    header = line(("section", "items", "result", "seconds"))
    return "\n".join([header, "-" * len(header), *map(line, rows)])
