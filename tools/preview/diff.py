"""What a plan changes against an earlier one: the ``+ ~ - =`` of ``pulumi preview``.

The earlier plan (the baseline) is, in this order: the file of ``--against DIR``
when given, else the plan the previous run left in the output folder, else the
stack's golden snapshot. Resources are matched by URN: a URN only in the new plan
is a create, only in the baseline a delete, in both with different inputs an
update. Reading a baseline and comparing is a few milliseconds; the program run
is not touched.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blueprint.paths import REPO_ROOT, display_path

GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
"""The reviewed snapshots (``make golden``), the baseline of a first run."""

CREATE, UPDATE, DELETE = "+", "~", "-"
OPS = (CREATE, UPDATE, DELETE)


@dataclass(frozen=True)
class Baseline:
    """The plan a stack is compared against, and where it came from."""

    path: Path | None
    origin: str
    """``--against``, ``last run``, ``golden snapshot``, or why there is none."""
    plan: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        if self.path is None:
            return self.origin
        return f"{display_path(self.path)} ({self.origin})"

    @property
    def resources(self) -> list[Mapping[str, Any]]:
        return list(self.plan.get("resources", [])) if self.plan else []

    @property
    def outputs(self) -> Mapping[str, Any] | None:
        return self.plan.get("outputs", {}) if self.plan else None


def find_baseline(stack: str, out_dir: Path, against: Path | None = None) -> Baseline:
    """The baseline of ``stack``; read before this run overwrites ``out_dir/<stack>.json``."""
    if against is not None:
        candidates = [(against / f"{stack}.json", "--against")]
    else:
        candidates = [
            (out_dir / f"{stack}.json", "last run"),
            (GOLDEN_DIR / f"{stack}.json", "golden snapshot"),
        ]
    for path, origin in candidates:
        if not path.is_file():
            continue
        try:
            plan = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            return Baseline(None, f"no baseline: {display_path(path)} is unreadable ({exc})")
        return Baseline(path, origin, plan)
    where = " or ".join(display_path(p) for p, _ in candidates)
    return Baseline(None, f"no baseline: no {where}")


@dataclass(frozen=True)
class Change:
    op: str
    """``+`` create, ``~`` update, ``-`` delete."""
    type: str
    name: str
    urn: str
    paths: tuple[str, ...] = ()
    """For an update: the inputs that differ (dotted paths)."""


@dataclass
class PlanDiff:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0

    def count(self, op: str) -> int:
        return sum(1 for c in self.changes if c.op == op)

    @property
    def ops(self) -> dict[str, int]:
        return {op: self.count(op) for op in OPS}

    def by_type(self) -> list[tuple[str, Counter[str]]]:
        """Per resource type, how many of each operation; most changed types first."""
        counts: dict[str, Counter[str]] = {}
        for c in self.changes:
            counts.setdefault(c.type, Counter())[c.op] += 1
        return sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))

    def op_of(self) -> dict[str, str]:
        """URN -> operation, for marking a resource tree."""
        return {c.urn: c.op for c in self.changes}


def diff_plans(
    baseline: Sequence[Mapping[str, Any]], resources: Sequence[Mapping[str, Any]]
) -> PlanDiff:
    """What ``resources`` change against ``baseline`` (both lists of plan records)."""
    old = {r["urn"]: r for r in baseline}
    new = {r["urn"]: r for r in resources}
    diff = PlanDiff()
    for urn in sorted(set(old) | set(new)):
        before, after = old.get(urn), new.get(urn)
        if before is None:
            assert after is not None
            diff.changes.append(Change(CREATE, after["type"], after["name"], urn))
        elif after is None:
            diff.changes.append(Change(DELETE, before["type"], before["name"], urn))
        elif before.get("inputs") != after.get("inputs"):
            paths = tuple(changed_paths(before.get("inputs"), after.get("inputs")))
            diff.changes.append(Change(UPDATE, after["type"], after["name"], urn, paths))
        else:
            diff.unchanged += 1
    return diff


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the values that differ; lists and scalars compare whole."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                out += changed_paths(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [prefix.rstrip(".")] if old != new else []


def output_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, str]:
    """Output key -> ``+``, ``~``, ``-`` or ``=`` against the baseline's outputs."""
    if before is None:
        return dict.fromkeys(after, CREATE)
    ops = {
        k: (CREATE if k not in before else "=" if before[k] == v else UPDATE)
        for k, v in after.items()
    }
    ops.update({k: DELETE for k in before if k not in after})
    return ops
