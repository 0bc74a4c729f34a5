"""Per-model service level objectives: latency budget, availability, queue and pending limits.

One table (``monitoring/slo.yaml``) holds them. The p99 latency budget has exactly
one source, chosen by :data:`LATENCY_SOURCE`: the table, or the model repository's
``latency_budget_ms`` parameter (``model_repo/<model>/config.pbtxt`` or
``configs/<variant>.pbtxt``) once the repository declares it for every model. The
other objectives always come from the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from blueprint.monitoring import MONITORING_DIR, REPO_ROOT

TABLE = MONITORING_DIR / "slo.yaml"
MODEL_REPO = REPO_ROOT / "model_repo"

LATENCY_SOURCE: Literal["table", "model_repo"] = "table"
"""Where p99 latency budgets come from. Switch to ``"model_repo"`` when every model's
config declares ``latency_budget_ms``; the tests then check the table agrees."""


class _Row(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class _Defaults(_Row):
    availability: float = Field(gt=0, lt=1)
    latency_objective: float = Field(gt=0, lt=1)
    queue_budget_fraction: float = Field(gt=0, le=1)
    max_pending_per_replica: int = Field(gt=0)


class _Variant(_Row):
    latency_budget_ms: float = Field(gt=0)


class _Model(_Row):
    latency_budget_ms: float = Field(gt=0)
    variants: dict[str, _Variant] = Field(default_factory=dict)
    availability: float | None = Field(default=None, gt=0, lt=1)
    latency_objective: float | None = Field(default=None, gt=0, lt=1)
    queue_budget_fraction: float | None = Field(default=None, gt=0, le=1)
    max_pending_per_replica: int | None = Field(default=None, gt=0)


class _Table(_Row):
    defaults: _Defaults
    models: dict[str, _Model]


@dataclass(frozen=True)
class Objective:
    """The objectives of one model served by one deployment (a variant of its config)."""

    model: str
    deployment: str
    latency_budget_s: float
    availability: float
    latency_objective: float
    queue_budget_fraction: float
    max_pending_per_replica: int

    @property
    def error_budget(self) -> float:
        """Fraction of requests allowed to fail."""
        return round(1 - self.availability, 9)

    @property
    def latency_error_budget(self) -> float:
        """Fraction of one-minute slices allowed over the p99 budget."""
        return round(1 - self.latency_objective, 9)

    @property
    def queue_budget_s(self) -> float:
        return round(self.latency_budget_s * self.queue_budget_fraction, 9)


def load_table(path: Path = TABLE) -> _Table:
    return _Table.model_validate(yaml.safe_load(path.read_text()))


_BUDGET_PARAM = re.compile(
    r'key:\s*"latency_budget_ms"\s*value:\s*\{\s*string_value:\s*"(?P<ms>[0-9.]+)"\s*\}', re.S
)


def model_repo_budget_ms(model: str, variant: str | None, repo: Path = MODEL_REPO) -> float | None:
    """``latency_budget_ms`` as the model repository declares it, or None."""
    path = repo / model / ("config.pbtxt" if variant is None else f"configs/{variant}.pbtxt")
    if not path.exists():
        return None
    m = _BUDGET_PARAM.search(path.read_text())
    return float(m.group("ms")) if m else None


def table_budget_ms(table: _Table, model: str, variant: str | None) -> float:
    row = table.models.get(model)
    if row is None:
        raise KeyError(
            f"{TABLE.relative_to(REPO_ROOT)}: model {model!r} has no objectives; add it "
            f"under 'models:' (known: {', '.join(sorted(table.models))})"
        )
    if variant is not None and variant in row.variants:
        return row.variants[variant].latency_budget_ms
    return row.latency_budget_ms


def objective(
    model: str, deployment: str, variant: str | None = None, table: _Table | None = None
) -> Objective:
    """The objectives of ``model`` as ``deployment`` serves it (with ``variant``'s config)."""
    table = table or load_table()
    budget_ms = table_budget_ms(table, model, variant)
    if LATENCY_SOURCE == "model_repo":
        declared = model_repo_budget_ms(model, variant)
        if declared is None:
            raise KeyError(f"model_repo/{model}: no latency_budget_ms parameter ({variant=})")
        budget_ms = declared
    row = table.models[model]
    d = table.defaults
    return Objective(
        model=model,
        deployment=deployment,
        latency_budget_s=budget_ms / 1000.0,
        availability=row.availability or d.availability,
        latency_objective=row.latency_objective or d.latency_objective,
        queue_budget_fraction=row.queue_budget_fraction or d.queue_budget_fraction,
        max_pending_per_replica=row.max_pending_per_replica or d.max_pending_per_replica,
    )


def objectives_for(
    deployments: Mapping[str, tuple[list[str], str | None]], table: _Table | None = None
) -> list[Objective]:
    """Objectives of every model of every deployment: ``{name: (repo_models, variant)}``."""
    table = table or load_table()
    return [
        objective(model, name, variant, table)
        for name, (models, variant) in sorted(deployments.items())
        for model in models
    ]
