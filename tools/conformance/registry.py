"""The check modules of ``make conformance``: a module plugs in by one import line here.

Every module imported below that defines ``checks() -> list[Check]``
(:mod:`tools.conformance.base`) runs, in the order of the imports.
"""

from __future__ import annotations

from types import ModuleType

from tools.conformance.base import Check

# One line per check module (keep them in this block).


def check_modules() -> list[ModuleType]:
    """The check modules imported above, in import order."""
    return [
        value
        for value in list(globals().values())
        if isinstance(value, ModuleType)
        and value.__name__.startswith("tools.conformance.")
        and hasattr(value, "checks")
    ]


def all_checks() -> list[Check]:
    """Every check of every module, in module order."""
    return [check for module in check_modules() for check in module.checks()]
