"""Views of a previewed stack: the short summary, and the resource tree and counts behind
``--details``.

Everything is a ``rich`` renderable or ``Text`` built without markup (resource names,
policy messages and values are printed as they are, brackets included); the console
decides on colour and width (``NO_COLOR``, a terminal or not).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from blueprint.cost.estimate import Estimate, usd
from policies.engine import Report
from tools.preview.diff import CREATE, DELETE, OPS, UPDATE, Baseline, PlanDiff, output_changes
from tools.preview.outputs import MASKED, masked_outputs, show
from tools.preview.recorder import Plan

CHANGES_LISTED = 15
"""Up to this many changed resources are named one by one; more are counted by type."""

OP_STYLE = {CREATE: "green", UPDATE: "yellow", DELETE: "red", "=": "dim"}


def type_counts(plan: Plan) -> list[tuple[str, int]]:
    counts = Counter(r["type"] for r in plan.resources)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A plain text table, left-aligned text and right-aligned numbers."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def fmt(row: list[str]) -> str:
        cells = []
        for i, cell in enumerate(row):
            numeric = cell.replace(".", "", 1).replace(",", "").replace("$", "").strip().isdigit()
            cells.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(cells).rstrip()

    return [fmt(headers), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


# ---------------------------------------------------------------------------
# --details: the resource tree and the counts per type


def resource_tree(plan: Plan, ops: Mapping[str, str] | None = None) -> Tree:
    """Components with their children, as ``pulumi preview`` shows them, each resource
    marked with what it does against the baseline (``+`` or ``~``; unchanged unmarked)."""
    ops = ops or {}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    urns = {r["urn"] for r in plan.resources}
    for res in plan.resources:
        children[res["parent"] if res["parent"] in urns else None].append(res)
    tree = Tree(Text(f"{plan.project}-{plan.stack} (pulumi:pulumi:Stack)", style="bold"))

    def walk(parent: str | None, node: Tree) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: (r["custom"], r["type"], r["name"]))
        for res in kids:
            op = ops.get(res["urn"], " ")
            label = Text(f"{op} ", style=OP_STYLE.get(op, ""))
            label.append(res["type"])
            label.append(f"  {res['name']}", style="bold" if not res["custom"] else "")
            if not res["custom"]:
                label.append(" [component]", style="dim")
            walk(res["urn"], node.add(label))

    walk(None, tree)
    return tree


def counts_table(plan: Plan, diff: PlanDiff) -> Table:
    """Resources per type, with what changes in each against the baseline."""
    changed = dict(diff.by_type())
    deleted_only = sorted(t for t in changed if t not in {r["type"] for r in plan.resources})
    out = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    out.add_column("resource type", overflow="fold")
    out.add_column("count", justify="right", no_wrap=True)
    for op in OPS:
        out.add_column(op, justify="right", style=OP_STYLE[op], no_wrap=True)
    for type_, n in [*type_counts(plan), *((t, 0) for t in deleted_only)]:
        ops = changed.get(type_, Counter())
        out.add_row(type_, str(n), *(str(ops[op]) if ops[op] else "" for op in OPS))
    custom = len(plan.custom)
    out.add_section()
    out.add_row(
        f"total ({custom} cloud resources, {len(plan.resources) - custom} components)",
        str(len(plan.resources)),
        *(str(diff.count(op)) for op in OPS),
    )
    return out


# ---------------------------------------------------------------------------
# The summary of one stack


@dataclass
class StackView:
    """Everything the summary of one stack shows."""

    plan: Plan
    baseline: Baseline
    diff: PlanDiff
    estimate: Estimate
    cost_line: str
    """The estimate's one-line summary (``tools.cost.render.summary_line``)."""
    report: Report | None
    plan_path: str
    seconds: float
    """How long the program took to record."""


def ops_text(ops: Mapping[str, int], unchanged: int | None = None) -> Text:
    """``+1 ~0 -2 =140``, each count in its operation's colour."""
    out = Text()
    for i, op in enumerate(OPS):
        out.append(f"{' ' if i else ''}{op}{ops[op]}", style=OP_STYLE[op] if ops[op] else "")
    if unchanged is not None:
        out.append(f" ={unchanged}", style=OP_STYLE["="])
    return out


def stack_summary(
    view: StackView, *, width: int = 120, details: bool = False, quiet: bool = False
) -> Group:
    """The short summary: what changes, the cost, the policies, the outputs (values cut
    to ``width``)."""
    plan, diff = view.plan, view.diff
    custom = len(plan.custom)
    parts: list[RenderableType] = [
        Text.assemble(
            (plan.stack, "bold"),
            f": {len(plan.resources)} resources ({custom} cloud, "
            f"{len(plan.resources) - custom} components) recorded in {view.seconds:.1f} s; "
            f"plan written to {view.plan_path}",
        )
    ]
    changes = Text(f"  changes against {view.baseline.label}: ")
    changes.append_text(ops_text(diff.ops, diff.unchanged))
    if not diff.changes:
        changes.append(" (no changes)", style="dim")
    parts.append(changes)
    if not quiet:
        parts += _change_lines(diff, everything=details)
    parts.append(Text(f"  {view.cost_line}"))
    if view.report is not None:
        parts += policy_lines(view.report, details=details)
    if not quiet:
        parts += _outputs(view, width)
    return Group(*parts)


def _change_lines(diff: PlanDiff, *, everything: bool) -> list[Text]:
    if not diff.changes:
        return []
    if everything or len(diff.changes) <= CHANGES_LISTED:
        lines = []
        for c in sorted(diff.changes, key=lambda c: (OPS.index(c.op), c.type, c.name)):
            line = Text(f"    {c.op} ", style=OP_STYLE[c.op])
            line.append(f"{c.type}  {c.name}")
            if c.paths:
                shown = ", ".join(c.paths[:3]) + (
                    f", +{len(c.paths) - 3} more" if len(c.paths) > 3 else ""
                )
                line.append(f"  ({shown})", style="dim")
            lines.append(line)
        return lines
    by_type = diff.by_type()
    lines = []
    for type_, ops in by_type[:CHANGES_LISTED]:
        line = Text("    ")
        line.append_text(ops_text({op: ops[op] for op in OPS}))
        line.append(f"  {type_}")
        lines.append(line)
    if len(by_type) > CHANGES_LISTED:
        lines.append(
            Text(
                f"    ... and {len(by_type) - CHANGES_LISTED} more types "
                "(--details lists every change)",
                style="dim",
            )
        )
    else:
        lines.append(Text("    (--details lists every change)", style="dim"))
    return lines


def policy_lines(report: Report, *, details: bool) -> list[Text]:
    """The verdicts: counts, the disabled policies by name, each mandatory violation;
    advisory violations and policies that could not run are listed with ``--details``."""
    n_m, n_a = len(report.mandatory), len(report.advisory)
    head = Text(f"  policies ({report.environment}): {len(report.ran)} run, ")
    disabled = f"{len(report.disabled)} disabled"
    if report.disabled:
        disabled += f" ({', '.join(sorted(report.disabled))})"
    head.append(disabled, style="yellow" if report.disabled else "")
    head.append("; ")
    head.append(
        f"{n_m} mandatory violation{'s' if n_m != 1 else ''} "
        f"({len(report.failed_policies('mandatory'))} policies)",
        style="bold red" if n_m else "green",
    )
    head.append(f", {n_a} advisory", style="yellow" if n_a else "")
    if report.unknown:
        head.append(f", {len(report.unknown)} could not run (unknown values)", style="yellow")
    if (n_a or report.unknown) and not details:
        head.append(" (--details lists them)", style="dim")
    lines = [head]
    shown = [v for v in report.verdicts if details or v.level == "mandatory"]
    for v in sorted(shown, key=lambda v: (v.level != "mandatory", v.policy, v.message)):
        line = Text("    ")
        line.append(f"[{v.level}]", style="bold red" if v.level == "mandatory" else "yellow")
        line.append(f" {v.policy}: {v.message}")
        lines.append(line)
    if details:
        lines += [Text(f"    [unknown] {note}", style="yellow") for note in report.unknown]
    return lines


def _outputs(view: StackView, width: int) -> list[Text]:
    """Each output on one line, cut to ``width``, marked with its change."""
    outputs = masked_outputs(view.plan.outputs, view.plan.secret_outputs)
    before = view.baseline.outputs
    ops = output_changes(before, view.plan.outputs)
    removed = sorted(k for k, op in ops.items() if op == DELETE)
    key_width = max((len(k) for k in [*outputs, *removed]), default=0)
    lines = [Text(f"  outputs ({len(outputs)}):")]
    for key, value in [*outputs.items(), *((k, None) for k in removed)]:
        op = ops[key]
        line = Text("    ")
        line.append(f"{op if op != '=' else ' '} ", style=OP_STYLE.get(op, ""))
        line.append(f"{key.ljust(key_width)}  ", style="cyan")
        shown = "(removed)" if op == DELETE else show(value)
        line.append(shown, style="magenta" if shown == MASKED else "dim" if op == DELETE else "")
        line.truncate(width, overflow="ellipsis")
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------
# Across stacks


def final_line(
    views: Sequence[StackView], failed: Sequence[str], first_line_s: float, total_s: float
) -> Text:
    """One line for every stack: resources, changes, cost range, mandatory violations."""
    count = len(views) + len(failed)
    out = Text(f"{count} stack{'s' if count != 1 else ''}: ", style="bold")
    if views:
        ops = {op: sum(v.diff.count(op) for v in views) for op in OPS}
        n_m = sum(len(v.report.mandatory) for v in views if v.report is not None)
        n_a = sum(len(v.report.advisory) for v in views if v.report is not None)
        out.append(f"{sum(len(v.plan.resources) for v in views)} resources (")
        out.append_text(ops_text(ops))
        out.append(
            f"), floor {usd(sum(v.estimate.floor for v in views))}/mo, "
            f"ceiling {usd(sum(v.estimate.ceiling for v in views))}/mo, "
        )
        out.append(
            f"{n_m} mandatory violation{'s' if n_m != 1 else ''}",
            style="bold red" if n_m else "green",
        )
        out.append(f", {n_a} advisory")
    if failed:
        out.append(
            f"{', ' if views else ''}not previewed (configuration errors): {', '.join(failed)}",
            style="bold red",
        )
    out.append(f"; first line after {first_line_s:.1f} s, {total_s:.1f} s in all", style="dim")
    return out
