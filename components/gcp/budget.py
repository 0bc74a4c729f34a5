"""GCP budget of one stack: a Cloud Billing budget on the stack's project.

Creates a Pub/Sub topic for budget updates (automation can subscribe, e.g. to
scale GPU pools down), an e-mail notification channel per address, and a
``gcp.billing.Budget`` on the billing account, filtered to the stack's project,
with threshold rules:

- current spend at each configured threshold (fraction of the limit);
- forecasted spend above 100 % of the limit;
- forecasted spend above the stack's estimated ceiling when that is below the
  limit (spend the stack's capacity cannot explain).

The deploying identity needs ``roles/billing.costsManager`` on the billing account;
with user credentials the provider needs ``billing_project`` and
``user_project_override`` for the Billing Budget API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

TYPE = "llm-inference:gcp:Budget"


@dataclass(frozen=True, kw_only=True)
class GcpBudgetArgs:
    project: str
    """The project whose spend the budget watches."""
    billing_account: str
    limit_usd: float
    actual_thresholds_percent: Sequence[int]
    ceiling_usd: float | None = None
    emails: Sequence[str]


def threshold_rules(args: GcpBudgetArgs) -> list[gcp.billing.BudgetThresholdRuleArgs]:
    """Threshold rules derived from the configured thresholds and the estimated ceiling."""
    rule = gcp.billing.BudgetThresholdRuleArgs
    rules = [
        rule(threshold_percent=p / 100, spend_basis="CURRENT_SPEND")
        for p in sorted(set(args.actual_thresholds_percent))
    ]
    rules.append(rule(threshold_percent=1.0, spend_basis="FORECASTED_SPEND"))
    if args.ceiling_usd is not None and 0 < args.ceiling_usd < args.limit_usd:
        ratio = round(args.ceiling_usd / args.limit_usd, 4)
        rules.append(rule(threshold_percent=ratio, spend_basis="FORECASTED_SPEND"))
    return rules


class GcpBudget(pulumi.ComponentResource):
    budget_name: pulumi.Output[str]
    """The budget's resource name (billingAccounts/<id>/budgets/<id>)."""
    topic_id: pulumi.Output[str]
    """The Pub/Sub topic that receives every budget update."""

    def __init__(
        self, name: str, args: GcpBudgetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = gcp.pubsub.Topic(f"{name}-budget", project=args.project, opts=child)
        channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-budget-{i}",
                project=args.project,
                display_name=f"{name} budget: {email}",
                type="email",
                labels={"email_address": email},
                opts=child,
            )
            for i, email in enumerate(args.emails)
        ]
        project = gcp.organizations.get_project_output(
            project_id=args.project, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        budget = gcp.billing.Budget(
            f"{name}-monthly",
            billing_account=args.billing_account,
            display_name=f"{name}-monthly",
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                projects=[project.number.apply(lambda n: f"projects/{n}")]
            ),
            amount=gcp.billing.BudgetAmountArgs(
                specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                    currency_code="USD", units=f"{args.limit_usd:.0f}"
                )
            ),
            threshold_rules=threshold_rules(args),
            all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
                pubsub_topic=topic.id,
                monitoring_notification_channels=[c.id for c in channels],
                schema_version="1.0",
            ),
            opts=child,
        )
        self.budget_name = budget.name
        self.topic_id = topic.id
        self.register_outputs({"budget_name": self.budget_name, "topic_id": self.topic_id})
