"""The check modules of ``make conformance``: a module plugs in by one import line here.

Every module of ``tools.conformance`` imported below that defines
``checks() -> list[Check]`` (:mod:`tools.conformance.base`) runs. To add one, name it in
the import line; nothing else registers checks.
"""

from __future__ import annotations

from types import ModuleType

from tools.conformance import (  # noqa: F401 (the check modules)
    cloud,
    helm,
    iam,
    images,
    kubernetes,
    metrics,
)
from tools.conformance.base import Check


def check_modules() -> list[ModuleType]:
    """The check modules imported above, by name."""
    modules = [
        value
        for value in list(globals().values())
        if isinstance(value, ModuleType)
        and value.__name__.startswith("tools.conformance.")
        and hasattr(value, "checks")
    ]
    return sorted(modules, key=lambda m: m.__name__)


def all_checks() -> list[Check]:
    """Every check of every module, in module order."""
    return [check for module in check_modules() for check in module.checks()]
