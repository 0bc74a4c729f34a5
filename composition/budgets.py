"""Section 7, budgets: one budget per cloud the stack uses, with forecast alerts.

The stack's ``budget.monthlyUsd`` is split between the clouds by the one budget split
(:mod:`blueprint.cost.budget`), and each cloud's estimated ceiling is a forecast
threshold of its budget.
"""

from __future__ import annotations

import pulumi

from blueprint.cost.budget import split_budget
from components.aws.budget import AwsBudget, AwsBudgetArgs
from components.gcp.budget import GcpBudget, GcpBudgetArgs
from composition.context import StackContext
from composition.foundation import Foundation


def build(ctx: StackContext, base: Foundation) -> None:
    cfg = ctx.config
    budget = cfg.budget
    split = split_budget(cfg, ctx.stack)
    if budget is None or split is None:
        return

    def share(cloud: str) -> tuple[float, float | None]:
        ceiling = split.clouds.get(cloud, 0.0)
        return split.cloud(cloud), ceiling if ceiling > 0 else None

    if base.aws is not None:
        limit, ceiling = share("aws")
        AwsBudget(
            ctx.name("aws", "budget"),
            AwsBudgetArgs(
                stack=ctx.stack,
                limit_usd=limit,
                actual_thresholds_percent=budget.thresholds_percent,
                ceiling_usd=ceiling,
                emails=budget.emails,
            ),
            opts=pulumi.ResourceOptions(provider=base.aws.provider),
        )
    if base.gcp is not None and cfg.gcp is not None and cfg.gcp.billing_account:
        limit, ceiling = share("gcp")
        GcpBudget(
            ctx.name("gcp", "budget"),
            GcpBudgetArgs(
                project=cfg.gcp.project,
                billing_account=cfg.gcp.billing_account,
                limit_usd=limit,
                actual_thresholds_percent=budget.thresholds_percent,
                ceiling_usd=ceiling,
                emails=budget.emails,
            ),
            opts=pulumi.ResourceOptions(provider=base.gcp.provider),
        )
