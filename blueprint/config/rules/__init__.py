"""Rules that span fields or sections of a stack's configuration.

Each rule is a function ``StackConfig -> Iterable[ConfigIssue]`` registered with
:func:`rule`; :func:`run_rules` runs them all so that every violation in a file is
reported at once. Rules live in one module per domain (``core``, ``gpu``, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from blueprint.config.errors import ConfigIssue
from blueprint.config.schema import StackConfig

Rule = Callable[[StackConfig], Iterable[ConfigIssue]]

_RULES: list[Rule] = []
_DOMAINS = ("core", "gpu", "placement", "serverless", "routing", "images")


def rule(fn: Rule) -> Rule:
    """Register a cross-field rule."""
    _RULES.append(fn)
    return fn


def run_rules(config: StackConfig) -> list[ConfigIssue]:
    for domain in _DOMAINS:
        importlib.import_module(f"{__name__}.{domain}")
    issues: list[ConfigIssue] = []
    for check in _RULES:
        issues.extend(check(config))
    return issues
