"""``python -m tools.conformance [--facts DIR] [STACK ...]``: the plans against upstream truth.

Records the plans of the stacks (all by default) the way ``make preview`` does, writes
them to ``build/plan/<stack>.json``, and runs every check of
:mod:`tools.conformance.registry` on them with the upstream facts folder: ``--facts``,
else ``$UPSTREAM_FACTS``, else ``../shared/upstream``. Prints one diagnostic line per
finding (``build/plan/<stack>.json:<line>: <resource>.<path>: <message> (got <value>)``),
then the rules that could not be evaluated and the coverage per stack.

Exit status: 0 clean; 1 a finding; 2 bad usage, a stack that does not validate, or
missing upstream facts (the folder, or a fact a check needs: ``make upstream-facts``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from blueprint.paths import STACK_DIR
from tools.conformance import images, kubernetes, upstream
from tools.conformance.base import PLAN_DIR, Check, Finding, MissingFacts
from tools.conformance.registry import all_checks
from tools.preview.recorder import Plan
from tools.preview.run import preview_stacks, write_plan

EXIT_FINDINGS = 1
EXIT_USAGE = 2


def known_stacks(stack_dir: Path = STACK_DIR) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stack_dir.glob("Pulumi.*.yaml"))


def record(stacks: Sequence[str], out: Path = PLAN_DIR) -> tuple[dict[str, Plan], list[str]]:
    """The stacks' plans (written under ``out``), and the configuration errors met."""
    plans: dict[str, Plan] = {}
    errors: list[str] = []
    for result in preview_stacks(stacks, STACK_DIR):
        if result.plan is None:
            errors.append(str(result.error))
            continue
        write_plan(result.plan, out)
        plans[result.stack] = result.plan
    return plans, errors


def run_checks(
    plans: Mapping[str, Plan], facts: Path, checks: Sequence[Check] | None = None
) -> list[Finding]:
    """Every finding of every check, each tagged with its check's name."""
    findings: list[Finding] = []
    for check in all_checks() if checks is None else checks:
        findings += [
            f if f.check else dataclasses.replace(f, check=check.name)
            for f in check.run(plans, facts)
        ]
    return findings


def summary_lines(plans: Mapping[str, Plan], facts: Path, findings: Sequence[Finding]) -> list[str]:
    errors = Counter(f.check for f in findings if not f.not_evaluated)
    skipped = Counter(f.check for f in findings if f.not_evaluated)
    lines = ["", "checks: " + ", ".join(f"{c.name} {errors[c.name]}" for c in all_checks())]
    objects = kubernetes.coverage(plans, facts)
    gaps = kubernetes.unvalidated_kinds(plans, facts)
    containers = images.image_coverage(plans, facts)
    for stack in plans:
        done, total = objects[stack]
        known, all_containers = containers[stack]
        missing = ", ".join(f"{kind} {n}" for kind, n in gaps[stack].items())
        lines.append(
            f"  {stack}: {done}/{total} Kubernetes objects validated against a schema"
            + (f" (not validated: {missing})" if missing else "")
            + f"; {known}/{all_containers} containers' images have USER/entrypoint facts"
        )
    if skipped:
        lines.append(
            "not evaluated: "
            + ", ".join(f"{name} {n}" for name, n in sorted(skipped.items()))
            + " (listed above with their reason)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make conformance", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", help="stacks to check (default: all)")
    parser.add_argument(
        "--facts",
        type=Path,
        help=f"upstream facts folder (default: ${upstream.ENV_VAR}, else ../shared/upstream)",
    )
    args = parser.parse_args(argv)
    available = known_stacks()
    unknown = [s for s in args.stacks if s not in available]
    if unknown:
        print(
            f"error: no stack file for {', '.join(unknown)}; known: {', '.join(available)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        facts = upstream.facts_folder(args.facts)
    except MissingFacts as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    plans, errors = record(args.stacks or available)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        return EXIT_USAGE
    try:
        findings = run_checks(plans, facts)
        summary = summary_lines(plans, facts, findings)
    except MissingFacts as exc:
        print(
            f"error: missing upstream fact in {exc.folder}: {exc.what}; gather it with "
            f"`{upstream.FILL_COMMAND}` (UPSTREAM_FACTS={exc.folder})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    for finding in sorted(findings, key=lambda f: (f.not_evaluated, f.source, f.line or 0)):
        print(finding.render())
    print("\n".join(summary))
    return EXIT_FINDINGS if any(not f.not_evaluated for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
