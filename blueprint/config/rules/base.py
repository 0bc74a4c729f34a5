"""The registry of cross-field rules: each rule module registers its rules here."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from blueprint.config.errors import ConfigIssue
from blueprint.schema import StackConfig

Rule = Callable[[StackConfig], Iterable[ConfigIssue]]

RULES: list[Rule] = []
"""Every registered rule, in the order their modules were imported."""


def rule(fn: Rule) -> Rule:
    """Register a cross-field rule."""
    RULES.append(fn)
    return fn
