"""Per-model service level objectives: latency budget, availability, queue and pending limits.

The p99 latency budget has exactly one source: the model repository's
``latency_budget_ms`` parameter (``model_repo/<model>/config.pbtxt``, or
``configs/<variant>.pbtxt`` for the variant a deployment serves), read through
:mod:`blueprint.modelrepo.repo`. The other objectives (availability, latency
objective, queue share, pending limit) come from ``monitoring/slo.yaml``: defaults,
with per-model overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from blueprint.modelrepo.llm import Slo, is_llm, load_llm
from blueprint.modelrepo.repo import facts as model_facts
from blueprint.paths import MODEL_REPO, MONITORING_DIR

TABLE = MONITORING_DIR / "slo.yaml"


class _Row(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class _Defaults(_Row):
    availability: float = Field(gt=0, lt=1)
    latency_objective: float = Field(gt=0, lt=1)
    queue_budget_fraction: float = Field(gt=0, le=1)
    max_pending_per_replica: int = Field(gt=0)


class _Model(_Row):
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


def latency_budget_ms(model: str, variant: str | None, repo: Path = MODEL_REPO) -> float:
    """The p99 budget the model repository declares for ``model`` (as ``variant``)."""
    where = f"model_repo/{model}/" + (
        "config.pbtxt" if variant is None else f"configs/{variant}.pbtxt"
    )
    try:
        declared = model_facts(model, repo, variant).latency_budget_ms
    except FileNotFoundError:
        raise KeyError(f"{where}: no such model config") from None
    if declared is None:
        raise KeyError(
            f'{where}: no parameters {{ key: "latency_budget_ms" }}; declare the p99 budget'
        )
    return declared


def objective(
    model: str, deployment: str, variant: str | None = None, table: _Table | None = None
) -> Objective:
    """The objectives of ``model`` as ``deployment`` serves it (with ``variant``'s config)."""
    table = table or load_table()
    budget_ms = latency_budget_ms(model, variant)
    row = table.models.get(model) or _Model()
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
    """Objectives of every Triton model of every deployment: ``{name: (repo_models, variant)}``.

    LLMs (``llm.yaml``) are not Triton models: :func:`llm_objectives_for` covers them.
    """
    table = table or load_table()
    return [
        objective(model, name, variant, table)
        for name, (models, variant) in sorted(deployments.items())
        for model in models
        if not is_llm(model)
    ]


@dataclass(frozen=True)
class LlmObjective:
    """What one LLM deployment promises, from its variant in ``model_repo/<model>/llm.yaml``."""

    deployment: str
    model_name: str
    """The served model name: the ``model_name`` label of every ``vllm:*`` series."""
    ttft_budget_s: float
    itl_budget_s: float
    objective: float
    """Share of requests that must meet each budget."""
    prefix_caching: bool
    max_waiting_per_replica: int
    """Requests queued in one engine before it is short of replicas: its ``max_num_seqs``
    (a whole batch waiting means another replica would serve them now)."""

    @property
    def latency_error_budget(self) -> float:
        return round(1 - self.objective, 9)

    @property
    def ttft_le(self) -> str:
        return Slo.le(self.ttft_budget_s * 1000)

    @property
    def itl_le(self) -> str:
        return Slo.le(self.itl_budget_s * 1000)


def llm_objective(model: str, deployment: str, variant: str | None) -> LlmObjective:
    manifest = load_llm(model)
    v = manifest.variant(variant)
    return LlmObjective(
        deployment=deployment,
        model_name=manifest.served_model_name,
        ttft_budget_s=v.slo.ttft_p99_ms / 1000,
        itl_budget_s=v.slo.itl_p99_ms / 1000,
        objective=v.slo.objective,
        prefix_caching=v.engine.enable_prefix_caching,
        max_waiting_per_replica=v.engine.max_num_seqs,
    )


def llm_objectives_for(
    deployments: Mapping[str, tuple[list[str], str | None]],
) -> list[LlmObjective]:
    """Objectives of every LLM deployment: ``{name: (repo_models, variant)}``."""
    return [
        llm_objective(model, name, variant)
        for name, (models, variant) in sorted(deployments.items())
        for model in models
        if is_llm(model)
    ]
