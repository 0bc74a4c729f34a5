"""Rules that span fields or sections of a stack's configuration.

Each rule is a function ``StackConfig -> Iterable[ConfigIssue]`` registered with
:func:`blueprint.config.rules.base.rule`; :func:`run_rules` runs them all so that
every violation in a file is reported at once. Rules live in one module per domain,
imported here.
"""

from __future__ import annotations

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules import core, gpu, images, placement, routing, serverless
from blueprint.config.rules.base import RULES, Rule, rule
from blueprint.schema import StackConfig

DOMAINS = (core, gpu, placement, serverless, routing, images)
"""The rule modules, one per domain."""

__all__ = ["DOMAINS", "RULES", "Rule", "rule", "run_rules"]


def run_rules(config: StackConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for check in RULES:
        issues.extend(check(config))
    return issues
