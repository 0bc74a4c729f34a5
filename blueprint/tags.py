"""Cost-allocation tag and label keys: the one place they are spelled.

AWS resources carry them as tags (through the provider's default tags, plus
per-resource tags for model and tenant), GCP resources as labels, Kubernetes
objects as labels. Policies and the cost report read the same keys.
"""

from __future__ import annotations

from typing import Final

ENVIRONMENT: Final = "environment"
COST_CENTER: Final = "cost-center"
TEAM: Final = "team"
STACK: Final = "stack"
MANAGED_BY: Final = "managed-by"
MODEL: Final = "model"
TENANT: Final = "tenant"
POOL: Final = "pool"

REQUIRED: Final = (ENVIRONMENT, COST_CENTER, TEAM)
"""Tags every taggable resource of a stack carries."""

K8S_PREFIX: Final = "llm-inference/"
"""Prefix of the blueprint's Kubernetes labels, e.g. ``llm-inference/pool``."""
POOL_LABEL: Final = K8S_PREFIX + POOL
TIER_LABEL: Final = K8S_PREFIX + "tier"
GPU_LABEL: Final = K8S_PREFIX + "gpu-model"
TENANT_LABEL: Final = K8S_PREFIX + TENANT
"""The tenant a serving pod bills to (cost attribution, alerts)."""
MODEL_LABEL: Final = K8S_PREFIX + MODEL
"""The models a serving pod serves, '.'-joined."""
DEPLOYMENT_LABEL: Final = K8S_PREFIX + "deployment"
"""The model deployment (stack file ``models`` key) a pod belongs to; alerts join on it."""


def base_tags(*, environment: str, cost_center: str, team: str, stack: str) -> dict[str, str]:
    """The tags (AWS) or labels (GCP) every resource of a stack carries."""
    return {
        ENVIRONMENT: environment,
        COST_CENTER: cost_center,
        TEAM: team,
        STACK: stack,
        MANAGED_BY: "pulumi",
    }
