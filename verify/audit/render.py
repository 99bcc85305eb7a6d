"""The audit as text: a table of tensors, the findings, and how to replay them."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
