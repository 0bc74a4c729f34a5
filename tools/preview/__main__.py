"""``python -m tools.preview [STACK ...]``: the offline ``pulumi preview``.

For each stack: validate its file, run the real program under Pulumi's mocks,
print the resource tree and the counts per type, write ``<out>/<stack>.json``,
then print the monthly cost estimate (floor and ceiling) and the verdicts of the
policy pack (``policies/``) evaluated against the plan.

Exit status: 0 when every stack passes its mandatory policies; 1 when a stack has
a mandatory policy violation; 2 when a stack's configuration (or the policy
configuration) is invalid (nothing of that stack is written). 2 wins over 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from blueprint.cost import estimate
from blueprint.paths import STACK_DIR
from policies.config import CONFIG_FILE, PolicyConfigError
from policies.config import load as load_policy_config
from policies.engine import evaluate, report_lines
from tools.cost.render import estimate_lines
from tools.preview.recorder import PROGRAM
from tools.preview.render import counts_lines, tree_lines
from tools.preview.run import preview_stacks, write_plan

EXIT_POLICY_VIOLATION = 1
EXIT_CONFIG_ERROR = 2


def known_stacks(stack_dir: Path = STACK_DIR) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stack_dir.glob("Pulumi.*.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make preview", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", help="stacks to preview (default: all)")
    parser.add_argument("--out", type=Path, default=Path("build/plan"), help="plan directory")
    parser.add_argument(
        "--stack-dir", type=Path, default=STACK_DIR, help="where the Pulumi.<stack>.yaml files are"
    )
    parser.add_argument("--quiet", action="store_true", help="no resource tree, counts only")
    parser.add_argument(
        "--golden", type=Path, help="also write each plan to this directory (golden snapshots)"
    )
    parser.add_argument(
        "--policy-config",
        type=Path,
        default=CONFIG_FILE,
        help="policy-pack configuration per environment (default: policies/environments.yaml)",
    )
    parser.add_argument(
        "--program", type=Path, default=PROGRAM, help="the Pulumi program to record"
    )
    parser.add_argument("--no-policies", action="store_true", help="skip the policy pack")
    args = parser.parse_args(argv)
    policy_settings = None
    if not args.no_policies:
        try:
            policy_settings = load_policy_config(args.policy_config)
        except PolicyConfigError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_CONFIG_ERROR

    available = known_stacks(args.stack_dir)
    stacks = args.stacks or available
    unknown = [s for s in stacks if s not in available]
    if unknown:
        print(
            f"error: no stack file for {', '.join(unknown)} in {args.stack_dir}/; "
            f"known stacks: {', '.join(available) or '(none)'}",
            file=sys.stderr,
        )
        return EXIT_CONFIG_ERROR

    status = 0
    for result in preview_stacks(stacks, args.stack_dir, args.program):
        if result.error is not None:
            print(str(result.error), file=sys.stderr)
            status = max(status, EXIT_CONFIG_ERROR)
            continue
        assert result.plan is not None
        plan = result.plan
        print(f"== stack {plan.stack}: {len(plan.resources)} resources")
        if not args.quiet:
            print("\n".join(tree_lines(plan)))
        print("\n".join(counts_lines(plan)))
        path = write_plan(plan, args.out)
        print(f"plan written to {path}")
        if args.golden is not None:
            write_plan(plan, args.golden)
        assert result.config is not None
        env = result.config.environment.value
        est = estimate(result.config, plan.stack)
        print("\n".join(estimate_lines(est)[:1] if args.quiet else estimate_lines(est)))
        if policy_settings is not None:
            report = evaluate(plan.to_json(), policy_settings[env], env)
            print("\n".join(report_lines(report)))
            if report.mandatory:
                status = max(status, EXIT_POLICY_VIOLATION)
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
