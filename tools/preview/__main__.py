"""``python -m tools.preview [STACK ...]``: the offline ``pulumi preview``.

For each stack: validate its file, say which stack is previewed against which
baseline (at once, before the program runs; on a terminal a progress line follows
while it runs), run the real program under Pulumi's mocks, write
``<out>/<stack>.json``, then print a short summary: what changes against the
baseline (``+`` create, ``~`` update, ``-`` delete, ``=`` unchanged), the monthly
cost floor and ceiling, the policy verdicts (``policies/``) and the stack's outputs
with secrets masked. A last line sums up every stack. ``--details`` adds the
resource tree, the counts per type, the cost lines and the advisory verdicts.

The baseline is ``--against DIR/<stack>.json`` when given, else the plan the last
run left in ``--out``, else the golden snapshot in ``tests/golden/``.

Secrets are never read offline: an encrypted value, and a secret the stack needs but
its file does not set (a note names it and the command that sets it), reach the
program as a placeholder marked secret. ``--require-secrets`` refuses a missing one
instead, as ``pulumi preview`` does (exit 2).

Exit status: 0 when every stack passes its mandatory policies; 1 when a stack has
a mandatory policy violation; 2 when a stack's configuration (or the policy
configuration) is invalid (nothing of that stack is written). 2 wins over 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from rich.padding import Padding
from rich.text import Text

from blueprint.cost import estimate
from blueprint.paths import STACK_DIR, display_path
from policies.config import CONFIG_FILE, PolicyConfigError, PolicySetting
from policies.config import load as load_policy_config
from policies.engine import evaluate
from tools.cost.render import estimate_lines, summary_line
from tools.preview.console import Progress, make_console, seconds_since_start
from tools.preview.diff import Baseline, diff_plans, find_baseline
from tools.preview.recorder import PROGRAM
from tools.preview.render import StackView, counts_table, final_line, resource_tree, stack_summary
from tools.preview.run import StackResult, iter_preview, write_plan

EXIT_POLICY_VIOLATION = 1
EXIT_CONFIG_ERROR = 2

PolicySettings = Mapping[str, Mapping[str, PolicySetting]]
"""Per environment, each policy's level and properties (``policies.config.load``)."""


def known_stacks(stack_dir: Path = STACK_DIR) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stack_dir.glob("Pulumi.*.yaml"))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    if args.against is not None and not args.against.is_dir():
        print(f"error: --against {args.against}: not a directory of plans", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    return Session(args, policy_settings).run(stacks)


class Session:
    """One preview run: says what it starts before each program runs, shows each stack's
    summary as soon as the stack is done, and sums up at the end."""

    def __init__(self, args: argparse.Namespace, policy_settings: PolicySettings | None) -> None:
        self.args = args
        self.policy_settings = policy_settings
        self.console = make_console()
        self.progress = Progress(self.console, enabled=not args.quiet)
        self.baselines: dict[str, Baseline] = {}
        self.began: dict[str, float] = {}
        self.first_line: float | None = None
        self.views: list[StackView] = []
        self.failed: list[str] = []
        self.status = 0

    def run(self, stacks: list[str]) -> int:
        args = self.args
        try:
            for result in iter_preview(
                stacks,
                args.stack_dir,
                args.program,
                self.on_start,
                require_secrets=args.require_secrets,
            ):
                if result.plan is None:
                    self.progress.stop()
                    print(str(result.error), file=sys.stderr, flush=True)
                    self.said_something()
                    self.status = max(self.status, EXIT_CONFIG_ERROR)
                    self.failed.append(result.stack)
                    continue
                view = self.summarize(result)
                self.progress.stop()
                for note in result.notes:
                    self.console.print(Text(f"  note: {note}"), soft_wrap=True)
                self.show(view)
        finally:
            self.progress.stop()
        if self.views or self.failed:
            line = final_line(
                self.views, self.failed, self.first_line or 0.0, seconds_since_start()
            )
            self.console.print(line, soft_wrap=True)
        return self.status

    def said_something(self) -> None:
        """Note the time of the first line (printed in the last one)."""
        if self.first_line is None:
            self.first_line = seconds_since_start()

    def on_start(self, stack: str, asked: bool, registered: Callable[[], int]) -> None:
        """Before a stack's program runs: its first line, then the progress line."""
        total = None
        if asked:
            baseline = self.baselines[stack] = find_baseline(
                stack, self.args.out, self.args.against
            )
            total = len(baseline.resources) or None
            there = f", {total} resources there" if total else ""
            line = Text.assemble(
                "previewing ", (stack, "bold"), f" against {baseline.label}{there}"
            )
        else:
            line = Text(f"previewing {stack} for its outputs only (the core of an edge stack)")
        self.console.print(line, soft_wrap=True)
        self.said_something()
        self.began[stack] = time.perf_counter()
        self.progress.start(stack, total, registered)

    def summarize(self, result: StackResult) -> StackView:
        """Write the plan, estimate its cost, run the policies, compare with the baseline."""
        plan, config = result.plan, result.config
        assert plan is not None
        assert config is not None
        seconds = time.perf_counter() - self.began[plan.stack]
        self.progress.phase("checking policies and cost")
        path = write_plan(plan, self.args.out)
        if self.args.golden is not None:
            write_plan(plan, self.args.golden)
        env = config.environment.value
        est = estimate(config, plan.stack)
        report = None
        if self.policy_settings is not None:
            report = evaluate(plan.to_json(), self.policy_settings[env], env)
            if report.mandatory:
                self.status = max(self.status, EXIT_POLICY_VIOLATION)
        baseline = self.baselines[plan.stack]
        view = StackView(
            plan=plan,
            baseline=baseline,
            diff=diff_plans(baseline.resources, plan.resources),
            estimate=est,
            cost_line=summary_line(est),
            report=report,
            plan_path=display_path(path),
            seconds=seconds,
        )
        self.views.append(view)
        return view

    def show(self, view: StackView) -> None:
        console, details = self.console, self.args.details
        if details:
            console.print(resource_tree(view.plan, view.diff.op_of()))
            console.print(Padding(counts_table(view.plan, view.diff), (0, 0, 0, 2)))
            for line in estimate_lines(view.estimate):
                console.print(Text(f"  {line}" if line else ""), soft_wrap=True)
        summary = stack_summary(view, width=console.width, details=details, quiet=self.args.quiet)
        console.print(summary, soft_wrap=True)
        console.print()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make preview", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", help="stacks to preview (default: all)")
    parser.add_argument("--out", type=Path, default=Path("build/plan"), help="plan directory")
    parser.add_argument(
        "--stack-dir", type=Path, default=STACK_DIR, help="where the Pulumi.<stack>.yaml files are"
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="DIR",
        help="compare each stack with DIR/<stack>.json (default: the last run's plan in --out, "
        "else tests/golden/<stack>.json)",
    )
    parser.add_argument(
        "--details",
        action="store_true",
        help="also the resource tree, counts per type, cost lines, advisory verdicts, "
        "every changed resource",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress line, no list of changed resources, no outputs",
    )
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
    parser.add_argument(
        "--require-secrets",
        action="store_true",
        help="refuse a stack whose file does not set a secret it needs, as `pulumi preview` "
        "does (default: an offline placeholder, and a note)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
