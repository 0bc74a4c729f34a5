"""``make demo``: the main job, on the embedded default configuration.

Previews every stack offline (no cloud credentials), writes each plan under
``<build>/plan/``, and prints a summary table. Exit status non-zero when any
stack fails.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from blueprint.preview.__main__ import known_stacks
from blueprint.preview.render import table, type_counts
from blueprint.preview.run import preview_stacks, write_plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="output directory")
    args = parser.parse_args(argv)

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
            rows.append([result.stack, "error", "-", "-", "-"])
            continue
        plan = result.plan
        write_plan(plan, args.build / "plan")
        rows.append(
            [
                plan.stack,
                str(len(plan.resources)),
                str(len(plan.custom)),
                str(len(type_counts(plan))),
                f"{args.build / 'plan' / (plan.stack + '.json')}",
            ]
        )
    print()
    print("\n".join(table(["stack", "resources", "cloud", "types", "plan"], rows)))
    print(
        f"\n{len(stacks)} stacks previewed in {elapsed:.1f} s "
        f"(Python {platform.python_version()}, {platform.machine()})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
