"""``python -m blueprint.preview [STACK ...]``: the offline ``pulumi preview``.

For each stack: validate its file, run the real program under Pulumi's mocks,
print the resource tree and the counts per type, and write
``<out>/<stack>.json``. Exit status 2 when a stack's configuration is invalid
(nothing of that stack is written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from blueprint.config.loader import STACK_DIR
from blueprint.preview.render import counts_lines, tree_lines
from blueprint.preview.run import preview_stacks, write_plan

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
    args = parser.parse_args(argv)

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
    for result in preview_stacks(stacks, args.stack_dir):
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
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
