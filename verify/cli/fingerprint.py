"""``python -m verify fingerprint``: what does an initializer actually do?"""

from __future__ import annotations

import argparse

from verify.cli.options import run_options, target_options
from verify.cli.output import end_progress, progress
from verify.cli.resolve import resolve_target
from verify.cli.schema import document, print_document
from verify.matrix import fingerprint_entry
from verify.seeding import run_seed

NAME = "fingerprint"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        NAME, help="what does an initializer actually do?",
        description="Infer TARGET's variance law (1/Var = c + a fan_in + b fan_out, with "
        "intervals), the closest named scheme and gain, which axes it reads as fans, whether it "
        "counts the receptive field, and its distribution family, from shapes that vary the "
        "fans independently.",
    )
    parser.add_argument("target", metavar="TARGET")
    target_options(parser)
    run_options(parser, None, "")


def run(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else run_seed()
    target, entry = resolve_target(args.target, args.api, args.kwargs,
                                   getattr(args, "backend", None), args.dtype)
    progress(f"fingerprinting {target.name} ...")
    result = fingerprint_entry(entry, target, seed, args.timeout, args.layout)
    end_progress()
    if args.json:
        print_document(document(result.to_dict(), seed=seed))
    else:
        print(render_fingerprint(result))
    return 0


def render_fingerprint(result) -> str:
    lines = [f"{result.name}: {result.describe()}", f"confidence: {result.confidence}"]
    if result.law is not None:
        law = result.law.to_dict()
        lines.append(f"variance law: {result.law.describe()}; goodness of fit "
                     f"p={law['fit_pvalue']:.3g}")
        for index, key in enumerate(("constant", "fan_in", "fan_out")):
            name = key if key == "constant" else f"{key}_coef"
            if not result.law.included[index]:
                lines.append(f"  {name:13} {'0':>10}  (dropped: indistinguishable from 0)")
                continue
            low, high = law[f"{key}_interval"]
            lines.append(f"  {name:13} {law[name]:10.5g}  95% [{low:.5g}, {high:.5g}]")
    if result.gain_interval:
        low, high = result.gain_interval
        lines.append(f"gain {result.gain:.5g}  95% [{low:.5g}, {high:.5g}], mode {result.mode}")
    family = result.family
    lines.append(f"distribution: {family.describe()} (kurtosis {family.kurtosis:.4g}, KS "
                 f"p={family.pvalue:.3g})")
    lines.append(f"mean: {result.mean.estimate:+.3g} sd (p={result.mean.pvalue:.3g}); "
                 f"independence: {result.independence.verdict} "
                 f"(p={result.independence.pvalue:.3g})")
    lines.append(f"{'shape':18} {'variance':>12} {'95% interval':>26} {'law':>12}")
    for s in result.shapes:
        predicted = ""
        if result.law is not None:
            fan_in, fan_out = result.law.reading.fans(s.out, s.inp, s.kernel)
            predicted = f"{result.law.predict(fan_in, fan_out):.5g}"
        lines.append(f"{'x'.join(map(str, s.shape)):18} {s.variance:12.5g} "
                     f"[{s.interval[0]:11.5g}, {s.interval[1]:11.5g}] {predicted:>12}")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)
