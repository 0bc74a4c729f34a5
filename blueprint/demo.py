"""``make demo``: the main job, on the embedded default configuration.

Previews every stack offline (no cloud credentials), writes each plan under
``<build>/plan/``, evaluates the policy pack against it, estimates its monthly
cost, and prints a summary table (resources, floor and ceiling cost, policy
verdicts). Exit status non-zero when any stack fails or has a mandatory
violation.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from blueprint.cost import estimate
from blueprint.cost.estimate import usd
from blueprint.preview.__main__ import known_stacks
from blueprint.preview.render import table, type_counts
from blueprint.preview.run import preview_stacks, write_plan
from policies.config import PolicyConfigError
from policies.config import load as load_policy_config
from policies.engine import evaluate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="output directory")
    args = parser.parse_args(argv)

    try:
        policy_settings = load_policy_config()
    except PolicyConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    stacks = known_stacks()
    print(f"Previewing {len(stacks)} stacks offline under Pulumi's mocks: {', '.join(stacks)}")
    started = time.perf_counter()
    results = preview_stacks(stacks)
    elapsed = time.perf_counter() - started

    rows = []
    failed = False
    for result in results:
        if result.plan is None:
            failed = True
            print(str(result.error), file=sys.stderr)
            rows.append([result.stack, "error", "-", "-", "-", "-", "-", "-", "-"])
            continue
        plan = result.plan
        write_plan(plan, args.build / "plan")
        assert result.config is not None
        env = result.config.environment.value
        report = evaluate(plan.to_json(), policy_settings[env], env)
        cost = estimate(result.config, plan.stack)
        failed = failed or bool(report.mandatory)
        rows.append(
            [
                plan.stack,
                str(len(plan.resources)),
                str(len(plan.custom)),
                str(len(type_counts(plan))),
                usd(cost.floor),
                usd(cost.ceiling),
                f"{len(report.ran) - len(report.failed_policies('mandatory'))}/{len(report.ran)}",
                str(len(report.mandatory)),
                str(len(report.advisory)),
            ]
        )
    print()
    headers = [
        "stack",
        "resources",
        "cloud",
        "types",
        "floor/month",
        "ceiling/month",
        "policies passed",
        "mandatory",
        "advisory",
    ]
    print("\n".join(table(headers, rows)))
    print(f"\nplans in {args.build / 'plan'}; details: make preview STACK=<name>, make cost")
    print(
        f"\n{len(stacks)} stacks previewed in {elapsed:.1f} s "
        f"(Python {platform.python_version()}, {platform.machine()})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
