"""The text ``history`` prints: one line per release tried, then each change of each
deviation, then what could not be measured, and the disk and time used."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify.history import History


def render(history: History) -> str:
    from verify.history import megabytes, summary_of

    plan = history.plan
    releases = history.releases
    entries = ", ".join(plan.entries) if plan.entries else f"every catalog entry of {plan.library}"
    lines = [f"history of {plan.distribution} ({history.selection.describe()}): "
             f"{len(releases)} releases tried of {len(history.candidates)} on the index; "
             f"entries: {entries}", ""]
    width = max([len(str(r.version)) for r in releases] + [7])
    lines.append(f"{'release':{width}}  {'chosen':8} {'result':40} {'deviating':30} pins moved")
    lines.append("-" * len(lines[-1]))
    notes = []
    for release in releases:
        deviating = ", ".join(name for name, o in release.outcomes.items()
                              if o.verdict == "fail")
        pins = ", ".join(f"{n} {v}" for n, v in release.installed.pins.items())
        result = summary_of(release) if release.status == "ran" else release.status
        lines.append(f"{release.version!s:{width}}  {release.chosen:8} {result[:40]:40} "
                     f"{deviating[:30]:30} {pins}".rstrip())
        if release.reason:
            notes.append(textwrap.fill(f"{release.version}: {release.status}: "
                                       f"{release.reason}", width=100,
                                       subsequent_indent="    "))
    if notes:
        lines += ["", *notes]
    lines.append("")
    found = history.changes
    rows = history.deviation_table()
    if not rows:
        lines.append("no deviation in any release tried")
    for row in rows:
        mine = [c for c in found if c.deviation == row["deviation"]]
        if not mine:
            span = (f"present in every release measured ({row['present_in'][0]} .. "
                    f"{row['present_in'][-1]})")
            lines.append(textwrap.fill(f"{row['deviation']}: {span}", width=100,
                                       subsequent_indent="    "))
        for change in mine:
            lines.append(textwrap.fill(f"{row['deviation']}: {change.describe()}", width=100,
                                       subsequent_indent="    "))
            if change.detail:
                lines.append(textwrap.fill(f"measured at {change.first_bad}: {change.detail}",
                                           width=100, initial_indent="    ",
                                           subsequent_indent="      "))
    if history.left_out:
        lines.append(f"left out by --max-releases: {history.left_out[0]} .. "
                     f"{history.left_out[-1]} ({len(history.left_out)} starting releases)")
    for gap in history.not_bisected:
        lines.append(f"not bisected (--no-bisect, or --max-releases reached): {gap[0]} .. "
                     f"{gap[-1]} untried")
    errors = [(release.version, name, outcome.reason) for release in releases
              for name, outcome in release.outcomes.items() if outcome.verdict == "error"]
    if errors:
        lines.append("")
        lines += [textwrap.fill(f"{name} at {version}: could not run: {reason}", width=100,
                                subsequent_indent="    ") for version, name, reason in errors]
    lines.append("")
    lines.append(f"cache {history.cache}: {megabytes(history.cache_bytes)} "
                 f"({megabytes(history.installed_bytes)} installed by this run); "
                 f"{history.seconds:.0f} s")
    return "\n".join(lines)
