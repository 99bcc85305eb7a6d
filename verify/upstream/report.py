"""One Markdown bug report per finding, with its reproduction beside it.

:class:`BugReport` holds what a maintainer needs: the library and versions, the documented
law with its citation, the measured law with intervals, the minimal failing shape or
config, a reproduction that needs only the library (``<slug>.py``, also quoted in the
report), and for a release history the first bad and last good release. :func:`write`
runs each reproduction once, with ``python -I`` and this project made unimportable, and
quotes what it printed and its exit status: a report says whether its reproduction shows
the deviation here. Every file is written whole (a temporary file, then a rename).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

RUN_ALONE = ("import runpy, sys; sys.modules['verify'] = None; path = sys.argv[1]; "
             "sys.path[:0] = sys.argv[2:]; sys.argv = sys.argv[1:2]; "
             "runpy.run_path(path, run_name='__main__')")
"""Runs a reproduction with this project unimportable (``python -I -c RUN_ALONE FILE
[DIRECTORY ...]``; the directories go first on ``sys.path``: a release's install)."""


@dataclass(frozen=True, kw_only=True)
class BugReport:
    """One finding, as a maintainer reads it."""

    library: str
    target: str
    title: str
    versions: dict[str, str]
    documented: str
    claim: str
    found_by: str
    measured: list[dict] = field(default_factory=list)
    """Rows ``{"check", "documented", "measured", "interval", "p", "verdict"}``."""
    shape: tuple[int, ...] | None = None
    config: dict | None = None
    dtype: str = "float32"
    backend: str = ""
    convention: str = ""
    instead: str = ""
    """What the library does instead (a fingerprint's explanation)."""
    program: str | None = None
    program_note: str = ""
    history: dict | None = None
    """``{"first_bad", "last_good", "releases": [(version, verdict), ...]}``."""
    paths: tuple[str, ...] = ()
    """Directories first on ``sys.path`` when the reproduction is run here (the install
    of the release it was found in)."""

    @property
    def slug(self) -> str:
        target = self.target.removesuffix(f" [{self.backend}]") if self.backend else \
            self.target
        name = target if target.startswith(f"{self.library}:") else \
            f"{self.library}-{target}"
        if self.backend:
            name += f"-{self.backend}"
        if self.dtype != "float32":
            name += f"-{self.dtype}"
        return re.sub(r"[^A-Za-z0-9_.]+", "-", name).strip("-.")[:120]


def run_reproduction(path: Path, timeout: float = 600.0,
                     paths: tuple[str, ...] = ()) -> tuple[int | None, str]:
    """Run ``path`` alone; its exit status (None on a timeout) and output."""
    try:
        done = subprocess.run([sys.executable, "-I", "-c", RUN_ALONE, str(path), *paths],
                              capture_output=True, text=True, timeout=timeout,
                              cwd=path.parent)
    except subprocess.TimeoutExpired:
        return None, f"(did not finish in {timeout:g} s)"
    crashed = done.returncode not in (0, 1) or "Traceback (most recent call last)" in done.stderr
    output = done.stdout + (("\n" + done.stderr[-2000:]) if crashed else "")
    return (2 if crashed else done.returncode), output.strip()


def _atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write(reports: list[BugReport], directory: Path | str, *, run: bool = True,
          timeout: float = 600.0, progress=None) -> list[Path]:
    """Write each report (``<slug>.md``, and ``<slug>.py`` where it has a reproduction) into
    ``directory``; the Markdown paths, in order."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    seen: dict[str, int] = {}
    for index, report in enumerate(reports, 1):
        slug = report.slug
        seen[slug] = seen.get(slug, 0) + 1
        if seen[slug] > 1:
            slug = f"{slug}-{seen[slug]}"
        outcome = None
        if report.program is not None:
            script = directory / f"{slug}.py"
            _atomic(script, report.program)
            if run:
                if progress is not None:
                    progress(f"[{index}/{len(reports)}] running the reproduction of "
                             f"{report.target}")
                outcome = run_reproduction(script, timeout, report.paths)
        path = directory / f"{slug}.md"
        _atomic(path, render(report, script_name=f"{slug}.py", outcome=outcome))
        written.append(path)
    return written


def _table(rows: list[dict]) -> list[str]:
    lines = ["| check | documented | measured | interval | p-value | n | verdict |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(k, "")) for k in
                                       ("check", "documented", "measured", "interval", "p",
                                        "n", "verdict")) + " |")
    return lines


def render(report: BugReport, *, script_name: str = "reproduce.py",
           outcome: tuple[int | None, str] | None = None) -> str:
    """The Markdown of one report."""
    library_version = report.versions.get(report.library, "")
    lines = [f"# {report.title}", ""]
    where = [f"**Library:** {report.library} {library_version}".rstrip()]
    if report.backend:
        where.append(f"**Backend:** {report.backend}")
    if report.dtype:
        where.append(f"**dtype:** {report.dtype}")
    lines += ["  \n".join(where), ""]
    others = ", ".join(f"{k} {v}" for k, v in report.versions.items()
                       if k != report.library and v != "not installed")
    if others:
        lines += [f"Measured with {others}.", ""]
    lines += ["## What the documentation says", "", report.documented.strip(), "",
              f"The law this states, in the textbook's terms: `{report.claim}`."]
    if report.convention:
        lines += ["", f"Convention the library documents: {report.convention.strip()}"]
    lines += ["", "## What it does", ""]
    if report.shape is not None:
        shape = "x".join(map(str, report.shape))
        lines += [f"The smallest failing shape found: **{shape}** (hypothesis shrank the "
                  "shapes it tried to this one).", ""]
    if report.config is not None:
        lines += ["The smallest failing config found:", "", "```json",
                  _json(report.config), "```", ""]
    if report.measured:
        lines += ["Measured (intervals at the check's confidence; each check fails at "
                  "p < 1e-9):", "", *_table(report.measured), ""]
    if report.instead:
        lines += [f"What it does instead: {report.instead.strip()}", ""]
    if report.history:
        history = report.history
        lines += ["## Since which release", "",
                  f"- first bad release: **{history.get('first_bad') or 'none found'}**",
                  f"- last good release: **{history.get('last_good') or 'none found'}**"]
        if history.get("fixed_in"):
            lines.append(f"- fixed in: **{history['fixed_in']}**")
        if history.get("confounded"):
            lines.append(f"- confounded: {history['confounded']}")
        lines += ["", "| release | verdict |", "|---|---|"]
        lines += [f"| {version} | {verdict} |" for version, verdict in history.get("releases", [])]
        lines.append("")
    lines += ["## Reproduction", ""]
    if report.program is not None:
        lines += [f"It needs only {report.library} and its dependencies. Save it "
                  f"as `{script_name}` (it is written next to this file) and run "
                  f"`python {script_name}`: it draws tensors with fixed seeds, compares them "
                  "with the documented law, prints one line per check, and exits with "
                  "status 1 while the deviation is there, 0 once it is gone.", ""]
        if report.program_note:
            lines += [report.program_note.strip(), ""]
        lines += ["```python", report.program.rstrip(), "```", ""]
        if outcome is not None:
            status, output = outcome
            said = ("shows the deviation" if status == 1 else
                    "does NOT show the deviation: the check that found it is one the "
                    "standalone script lacks; run the command below" if status == 0 else
                    "failed to run")
            where = (f" with {report.library} {report.versions.get(report.library, '')}"
                     if report.paths else "")
            lines += [f"Run here{where} (exit status {status}): it {said}.", "", "```text",
                      output, "```", ""]
    else:
        lines += [report.program_note.strip() or "No standalone reproduction for this kind "
                  "of finding yet: the command below reproduces it.", ""]
    lines += ["## Found by", "", "initverify "
              f"{report.versions.get('initverify', '')}:", "", "```sh", report.found_by, "```",
              ""]
    return "\n".join(lines)


def _json(value) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, default=str)
