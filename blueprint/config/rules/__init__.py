"""Rules that span fields or sections of a stack's configuration.

Each rule is a function ``StackConfig -> Iterable[ConfigIssue]`` registered with
:func:`blueprint.config.rules.base.rule`; :func:`run_rules` runs them all so that
every violation in a file is reported at once. Rules live in one module per domain,
imported here.
"""

from __future__ import annotations

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules import (
    core,
    existing,
    gpu,
    images,
    llm,
    models,
    monitoring,
    placement,
    routing,
    serverless,
)
from blueprint.config.rules.base import RULES, Rule, rule
from blueprint.schema import StackConfig

DOMAINS = (core, existing, gpu, models, llm, placement, serverless, routing, images, monitoring)
"""The rule modules, one per domain."""

__all__ = ["DOMAINS", "RULES", "Rule", "SectionUnchecked", "rule", "run_rules"]


class SectionUnchecked(Exception):
    """A rule read a section whose shape is invalid; its verdict would not mean anything."""

    def __init__(self, section: str) -> None:
        super().__init__(section)
        self.section = section


def run_rules(config: StackConfig) -> tuple[list[ConfigIssue], dict[str, str]]:
    """Every rule's issues, and the rules skipped because they read an invalid section.

    ``config`` may be a partial view (:class:`blueprint.config.loader.PartialConfig`)
    that raises :class:`SectionUnchecked` when a rule reads a section that failed its
    shape checks: that rule is skipped (its issues so far kept: they judged valid
    sections), and every other rule still runs, so a file's mistakes come in one round.
    """
    issues: list[ConfigIssue] = []
    skipped: dict[str, str] = {}
    for check in RULES:
        try:
            for issue in check(config):
                issues.append(issue)
        except SectionUnchecked as exc:
            skipped[check.__name__] = exc.section
    return issues, skipped
