"""The audit as text: a table of tensors, the findings, and how to replay them; and the
comparison of two models (``compare --models``)."""

from __future__ import annotations

import json
import math
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verify.audit.compare import ModelComparison, TensorPair
    from verify.audit.engine import AuditResult

MAX_ROWS = 40
"""Tensors listed in the text table; the JSON has every one."""


def render(result: AuditResult, *, rows: int = MAX_ROWS) -> str:
    lines = [f"audit {result.target} (api {result.api}, seed {result.seed}, "
             f"{result.builds} builds, {result.elapsed:.1f} s): {result.verdict.upper()}"]
    if result.error:
        lines.append(f"  error: {result.error}")
        return "\n".join(lines)
    if result.spec:
        lines.append(f"  spec: {result.spec}")
    if result.explored:
        lines.append(f"  configs explored: {result.explored['audits']} audits of configs "
                     "hypothesis drew around the starting one")
    lines += [f"  warning: {w}" for w in result.warnings]
    lines.append("")
    header = f"  {'tensor':<44} {'shape':<16} {'role':<26} {'status':<11} {'std':>9}  law"
    lines.append(header)
    shown = result.tensors if len(result.tensors) <= rows else result.tensors[:rows]
    for tensor in shown:
        name = tensor.name + (f" (+{len(tensor.names) - 1} tied)" if len(tensor.names) > 1
                              else "")
        std = tensor.measured.std
        std_text = "const" if tensor.measured.constant else f"{std:.4g}"
        law = (tensor.expected.rule if tensor.expected.rule.startswith("per block")
               else tensor.expected.describe()) if tensor.expected else \
            (tensor.measured.family or "")
        status = tensor.status if tensor.verdict != "fail" else "FAIL"
        lines.append(f"  {name[:44]:<44} {'x'.join(map(str, tensor.shape)) or '()':<16} "
                     f"{tensor.role[:26]:<26} {status:<11} {std_text:>9}  {law}")
    if len(result.tensors) > rows:
        lines.append(f"  ... {len(result.tensors) - rows} more tensors (--json lists all)")
    lines.append("")
    if not result.findings:
        lines.append("no findings")
    for finding in result.findings:
        tag = " (waived: " + finding.waived["reason"] + ")" if finding.waived else \
            ("" if finding.blocking else " (informational)")
        names = ", ".join(finding.tensors[:4]) + (
            f" and {len(finding.tensors) - 4} more" if len(finding.tensors) > 4 else "")
        lines.append(f"{finding.kind}{tag}: {names}")
        lines.append(textwrap.fill(finding.detail, width=100, initial_indent="    ",
                                   subsequent_indent="    "))
        if finding.expected:
            lines.append(f"    expected {finding.expected}"
                         + (f"; measured {finding.measured}" if finding.measured else ""))
        if finding.citation:
            lines.append(f"    source: {finding.citation}")
        if finding.config is not None:
            lines.append(f"    minimal config: {finding.config}")
        if finding.replay:
            lines.append(f"    replay: {finding.replay}")
    if result.replay and result.findings:
        lines.append("")
        lines.append("replay: " + result.replay.replace("{seed}", str(result.seed)))
    return "\n".join(lines)


def _cell(pair: TensorPair) -> tuple[str, ...]:
    """The table row of one matched pair."""
    a, b = pair.a, pair.b
    shapes = f"{_shape(a.shape)} / {_shape(b.shape)}"
    if pair.shape_relation != "equal":
        shapes += f" ({pair.shape_relation})"
    low, high = pair.interval
    if math.isnan(pair.ratio):
        ratio = "-"
    elif pair.exact or low == high:
        ratio = f"{pair.ratio:.4g} (exact)"
    else:
        ratio = f"{pair.ratio:.4g} [{low:.4g}, {high:.4g}]"
    remarks = ("" if pair.same_shape else "shapes differ",
               "" if pair.same_mean else f"means differ ({a.mean:.3g}, {b.mean:.3g})", pair.note)
    return (a.name, b.name, shapes, _std(a), _std(b), ratio, _yes(pair.same_variance),
            f"{a.family or a.kind} / {b.family or b.kind}", _yes(pair.same_family),
            "; ".join(remark for remark in remarks if remark))


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "()"


def _std(side) -> str:
    return "-" if math.isnan(side.std) else f"{side.std:.4g}"


def _yes(value: bool) -> str:
    return "yes" if value else "NO"


def render_comparison(result: ModelComparison, *, rows: int = MAX_ROWS) -> str:
    """The comparison of two models as text: who is A and B, a table of the matched
    pairs, the tensors left over, and the verdict."""
    lines = []
    for label, model, builds in zip("AB", result.models, result.builds, strict=True):
        lines.append(f"{label} = {model['target']} (api {model['api']}"
                     + (f", kwargs {json.dumps(model['kwargs'])}" if model["kwargs"] else "")
                     + (f", config {json.dumps(model['config'])}" if model["config"] else "")
                     + f", {builds} builds)")
    lines.append(f"seed {result.seed}" + (f", map {result.name_map}" if result.name_map else ""))
    lines.append("")
    header = ("tensor A", "tensor B", "shapes", "std A", "std B", "B/A [95% interval]",
              "same variance?", "family A / B", "same family?", "note")
    table = [header] + [_cell(pair) for pair in result.pairs[:rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    right = {3, 4}
    for row in table:
        lines.append("  ".join(cell.rjust(width) if i in right else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths, strict=True))
                               ).rstrip())
    if len(result.pairs) > rows:
        lines.append(f"... {len(result.pairs) - rows} more pairs (--json lists all)")
    lines.append("")
    for label, unmatched in (("A", result.unmatched_a), ("B", result.unmatched_b)):
        if unmatched:
            shown = ", ".join(f"{u.name} ({_shape(u.shape)})" for u in unmatched[:8])
            more = f" and {len(unmatched) - 8} more" if len(unmatched) > 8 else ""
            lines.append(f"only in {label}: {shown}{more}")
    lines += [f"note: {note}" for note in result.notes]
    differ = [pair for pair in result.pairs if not pair.same]
    count = len(result.pairs)
    tensors = f"{count} matched tensor{'s' if count != 1 else ''}"
    if result.equivalent:
        lines.append(f"equivalent: the {tensors} have the same variance, mean and family "
                     f"(each test at alpha = {result.policy.alpha:g})")
        tested = [(pair.checks[0].min_detectable_effect, pair.a.name)
                  for pair in result.pairs if pair.checks]
        if tested:
            effect, name = max(tested)
            lines.append(f"  a variance ratio off by {effect:.1%} would be found (power "
                         f"{result.policy.power:g}) in every pair; the least precise is {name}")
    elif result.pairs:
        lines.append(f"they differ: {len(differ)} of the {tensors} ("
                     + ", ".join(p.a.name for p in differ[:6])
                     + (", ..." if len(differ) > 6 else "") + ")")
    else:
        lines.append("nothing compared: no tensor matched")
    return "\n".join(lines)
