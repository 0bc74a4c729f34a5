"""AWS budget of one stack: a monthly cost budget with actual and forecast alerts.

Creates an SNS topic (with a policy that lets AWS Budgets publish to it), e-mail
subscriptions to it, and an ``aws.budgets.Budget`` limited to the stack's AWS
spend (cost filter on the ``stack`` cost-allocation tag) that notifies the topic
and the e-mail addresses:

- on ACTUAL spend at each configured threshold (percent of the limit);
- on FORECASTED spend above 100 % of the limit;
- on FORECASTED spend above the stack's estimated ceiling, when that is below the
  limit: spend the stack's own capacity cannot explain (a leaked node, a pool
  changed by hand) shows up before the budget is reached.

The ``stack`` tag must be activated as a cost-allocation tag in the billing
console (once per payer account) before the filter matches any spend.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from blueprint import tags

TYPE = "llm-inference:aws:Budget"


@dataclass(frozen=True, kw_only=True)
class AwsBudgetArgs:
    stack: str
    """The stack whose spend the budget watches (its ``stack`` tag)."""
    limit_usd: float
    """The monthly limit for the stack's AWS spend."""
    actual_thresholds_percent: Sequence[int]
    """Percentages of the limit that notify on actual spend."""
    ceiling_usd: float | None = None
    """The stack's estimated monthly ceiling on AWS; a forecast above it notifies."""
    emails: Sequence[str]


def notifications(
    args: AwsBudgetArgs, topic_arn: pulumi.Input[str]
) -> list[aws.budgets.BudgetNotificationArgs]:
    """The budget's notifications, derived from the thresholds and the ceiling."""

    def note(
        kind: str, threshold: float, threshold_type: str
    ) -> aws.budgets.BudgetNotificationArgs:
        return aws.budgets.BudgetNotificationArgs(
            comparison_operator="GREATER_THAN",
            notification_type=kind,
            threshold=round(threshold, 2),
            threshold_type=threshold_type,
            subscriber_email_addresses=list(args.emails),
            subscriber_sns_topic_arns=[topic_arn],
        )

    out = [
        note("ACTUAL", float(p), "PERCENTAGE") for p in sorted(set(args.actual_thresholds_percent))
    ]
    out.append(note("FORECASTED", 100.0, "PERCENTAGE"))
    if args.ceiling_usd is not None and 0 < args.ceiling_usd < args.limit_usd:
        out.append(note("FORECASTED", args.ceiling_usd, "ABSOLUTE_VALUE"))
    return out


class AwsBudget(pulumi.ComponentResource):
    budget_name: pulumi.Output[str]
    """The budget's name in AWS Budgets."""
    topic_arn: pulumi.Output[str]
    """The SNS topic budget alerts are published to (subscribe chat/paging here)."""

    def __init__(
        self, name: str, args: AwsBudgetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Budget alerts carry no secrets, and AWS Budgets cannot publish to a topic
        # encrypted with the AWS-managed SNS key; a customer key would add a key
        # policy for budgets.amazonaws.com. Plain topic, restricted by policy.
        topic = aws.sns.Topic(f"{name}-alerts", tags={"Name": f"{name}-alerts"}, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=topic.arn,
            policy=topic.arn.apply(_topic_policy),
            opts=child,
        )
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-alerts-{i}", topic=topic.arn, protocol="email", endpoint=email, opts=child
            )
        budget = aws.budgets.Budget(
            f"{name}-monthly",
            name=f"{name}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{args.limit_usd:.2f}",
            limit_unit="USD",
            cost_filters=[{"name": "TagKeyValue", "values": [f"user:{tags.STACK}${args.stack}"]}],
            notifications=notifications(args, topic.arn),
            tags={"Name": f"{name}-monthly"},
            opts=child,
        )
        self.budget_name = budget.name
        self.topic_arn = topic.arn
        self.register_outputs({"budget_name": self.budget_name, "topic_arn": self.topic_arn})


def _topic_policy(arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AwsBudgetsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "SNS:Publish",
                    "Resource": arn,
                }
            ],
        }
    )
