"""The contract between ``make conformance`` and its check modules.

A *check module* is a module under ``tools/conformance/`` with a function
``checks() -> list[Check]``. It plugs into the runner by one import line in
:mod:`tools.conformance.registry`; nothing else is registered anywhere.

A :class:`Check` has a ``name`` (short, kebab-case, unique: ``k8s-schema``, ``helm-values``,
``iam-actions``) and one method::

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]: ...

- ``plans``: every recorded plan, keyed by stack name (``dev``, ``staging``, ``prod``,
  ``edge``), exactly as ``python -m tools.preview`` records them (``Plan.resources`` is a
  list of records with ``urn``, ``type``, ``name``, ``parent``, ``custom``, ``inputs``, ...).
  A check must look at every plan it is given, not only ``prod``.
- ``facts``: the upstream facts folder (``/work/shared/upstream`` layout, described in its
  ``SOURCES.md``): ``<owner>+<name>/<ref>/<path>``, ``<owner>+<name>/tags.txt``, ``derived/``.
- It returns one :class:`Finding` per input a real deployment would reject or that would
  break at run time, and one ``not_evaluated`` finding per rule it could not evaluate (say
  which and why; never skip silently). An empty list means "checked, clean".
- When a fact it needs is not in the folder (a pinned version that is not vendored, a
  derived file that was never generated), it raises :class:`MissingFacts`: the runner
  stops with exit status 2 and names the folder and ``make upstream-facts``. Missing data
  is never a pass.
- Checks are pure: no network, no writes, no printing, deterministic order. They must not
  mutate ``plans``.

A :class:`Finding` renders through :func:`blueprint.diagnostics.render` as one line::

    build/plan/prod.json:1234: prod-chat.spec.template.spec.containers[0].image: why (got value)

Build findings about a plan resource with :meth:`Finding.at`, which fills in the plan file
(:func:`plan_source`) and the line of the resource's record in it (:func:`resource_line`);
the key is ``<resource name>.<property path>`` (no ``:`` in it: diagnostics keys allow one).
Findings about a repository file (a stack file, a rules file) use that file's path.

Exit status of the runner: 0 when no check reports an error finding, 1 when one does, 2 for
bad usage or missing facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from blueprint.diagnostics import NO_VALUE, render
from tools.preview.recorder import Plan

PLAN_DIR = Path("build/plan")
"""Where the runner writes the plans it checks; findings point into these files."""


class MissingFacts(Exception):
    """A fact a check needs is not in the facts folder (the runner exits 2)."""

    def __init__(self, folder: Path, what: str) -> None:
        super().__init__(f"{folder}: {what}")
        self.folder = folder
        self.what = what


@dataclass(frozen=True)
class Finding:
    """One input that upstream would reject, or one rule a check could not evaluate."""

    source: str
    """The plan file (``build/plan/<stack>.json``) or repository file the finding is in."""
    line: int | None
    key: str
    """``<resource name>.<property path>``, or the key within ``source``."""
    message: str
    """What is wrong and why it breaks (which upstream fact says so, at which version)."""
    value: Any = NO_VALUE
    fix: str | None = None
    not_evaluated: bool = False
    """True: the check could not evaluate a rule (reported, does not fail the run)."""
    check: str = ""
    """Name of the check that found it (the runner fills it in when empty)."""

    def render(self) -> str:
        message = f"not evaluated: {self.message}" if self.not_evaluated else self.message
        return render(self.source, self.line, self.key, message, value=self.value, fix=self.fix)

    @classmethod
    def at(
        cls,
        plan: Plan,
        resource: Mapping[str, Any],
        path: str,
        message: str,
        *,
        value: Any = NO_VALUE,
        fix: str | None = None,
        not_evaluated: bool = False,
    ) -> Finding:
        """A finding about ``resource`` (a record of ``plan``) at property ``path``."""
        key = f"{resource['name']}.{path}" if path else str(resource["name"])
        return cls(
            plan_source(plan.stack),
            resource_line(plan, str(resource["urn"])),
            key,
            message,
            value=value,
            fix=fix,
            not_evaluated=not_evaluated,
        )


class Check(Protocol):
    """One kind of conformance check (see the module docstring for the contract)."""

    name: str

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]: ...


def plan_source(stack: str) -> str:
    """The plan file a finding about stack ``stack`` points at."""
    return str(PLAN_DIR / f"{stack}.json")


def resource_line(plan: Plan, urn: str) -> int | None:
    """The 1-based line of ``urn``'s record in the plan file (``Plan.dumps``), its ``"urn"`` key."""
    text = plan.dumps()
    lines = _URN_LINES.get(text)
    if lines is None:
        lines = _URN_LINES[text] = _urn_lines(text)
    return lines.get(urn)


_URN_LINES: dict[str, dict[str, int]] = {}


def _urn_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith('"urn": "'):
            lines[stripped[len('"urn": "') :].rstrip(",").rstrip('"')] = number
    return lines
