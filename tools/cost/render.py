"""Text views of an estimate: the summary every preview prints, and the detail tables."""

from __future__ import annotations

from blueprint.catalog import load_catalog
from blueprint.cost.estimate import ASSUMPTIONS, Estimate, usd
from blueprint.cost.prices import services
from tools.preview.render import table


def summary_line(est: Estimate) -> str:
    return (
        f"monthly cost: floor {usd(est.floor)}, ceiling {usd(est.ceiling)} "
        f"(ceiling if spot falls back to on-demand: {usd(est.ceiling_fallback)})"
    )


def estimate_lines(est: Estimate, *, assumptions: bool = False) -> list[str]:
    rows = [
        [line.kind, line.name, line.cloud, usd(line.floor), usd(line.ceiling), line.detail]
        for line in sorted(est.lines, key=lambda x: (-x.ceiling, x.name))
    ]
    out = [summary_line(est), ""]
    out += ["  " + r for r in table(["kind", "name", "cloud", "floor", "ceiling", "what"], rows)]
    if est.shares:
        out.append("")
        share_rows = [
            [s.name, ",".join(s.models), s.tenant, usd(s.floor), usd(s.ceiling), s.detail]
            for s in sorted(est.shares, key=lambda x: (-x.ceiling, x.name))
        ]
        out += [
            "  " + r
            for r in table(
                ["model deployment", "models", "tenant", "floor", "ceiling", "how"], share_rows
            )
        ]
        out.append("")
        tenant_rows = [[t, usd(f), usd(c)] for t, (f, c) in est.by_tenant().items()]
        out += ["  " + r for r in table(["tenant", "floor", "ceiling"], tenant_rows)]
    if est.startups:
        out.append("")
        start_rows = [
            [s.name, f"{s.seconds:,.0f} s", f"${s.usd:,.2f}", s.detail]
            for s in sorted(est.startups, key=lambda x: x.name)
        ]
        out += [
            "  " + r
            for r in table(["LLM deployment", "start-up", "cost per scale-out", "how"], start_rows)
        ]
    for item in est.unpriced:
        out.append(f"  not priced: {item}")
    if assumptions:
        out.append("")
        out.append(
            f"  prices as of {load_catalog().prices_as_of} (instances), "
            f"{services().as_of} (services); assumptions:"
        )
        out += [f"   - {a}" for a in ASSUMPTIONS]
    return out
