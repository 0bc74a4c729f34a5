"""Text views of a plan: the resource tree and the counts per resource type."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from tools.preview.recorder import Plan


def tree_lines(plan: Plan) -> list[str]:
    """The resource tree, components with their children, as ``pulumi preview`` shows it."""
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    urns = {r["urn"] for r in plan.resources}
    for res in plan.resources:
        parent = res["parent"] if res["parent"] in urns else None
        children[parent].append(res)
    lines = [f"{plan.project}-{plan.stack} (pulumi:pulumi:Stack)"]

    def walk(parent: str | None, prefix: str) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: (r["custom"], r["type"], r["name"]))
        for i, res in enumerate(kids):
            last = i == len(kids) - 1
            mark = "└─ " if last else "├─ "
            kind = "" if res["custom"] else " [component]"
            lines.append(f"{prefix}{mark}{res['type']}  {res['name']}{kind}")
            walk(res["urn"], prefix + ("   " if last else "│  "))

    walk(None, "")
    return lines


def type_counts(plan: Plan) -> list[tuple[str, int]]:
    counts = Counter(r["type"] for r in plan.resources)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def counts_lines(plan: Plan) -> list[str]:
    rows = type_counts(plan)
    width = max((len(t) for t, _ in rows), default=10)
    out = [f"  {'resource type'.ljust(width)}  count", f"  {'-' * width}  -----"]
    out += [f"  {t.ljust(width)}  {n:5d}" for t, n in rows]
    custom = len(plan.custom)
    out.append(
        f"  {'total'.ljust(width)}  {len(plan.resources):5d}"
        f"  ({custom} cloud resources, {len(plan.resources) - custom} components)"
    )
    return out


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
