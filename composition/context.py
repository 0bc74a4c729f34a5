"""What every section of the composition needs: the validated config and the stack's names.

:func:`load` is the only place the program reads Pulumi config. It validates the
whole stack file at once (:mod:`blueprint.config`) and stops the program with every
problem listed and nothing registered; sections then read the frozen
:class:`StackContext` and hand components typed arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
from pulumi.runtime import config as runtime_config

from blueprint import tags
from blueprint.config import ConfigError, StackConfig, stack_file, validate_config
from blueprint.config.loader import StackSource
from blueprint.limits import cloudwatch_retention_days
from blueprint.paths import display_path
from blueprint.schema import NAMESPACE, SECRET_KEYS

T = TypeVar("T")

DEFAULT_LOG_RETENTION_DAYS = 30
"""Log retention of a stack without a ``monitoring`` section."""


@dataclass(frozen=True, kw_only=True)
class StackContext:
    """One stack's validated configuration and the names derived from it once."""

    config: StackConfig
    stack: str
    base_tags: Mapping[str, str] = field(default_factory=dict)
    """Cost-allocation tags (AWS) and labels (GCP) every resource of the stack carries."""
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    """Retention of every log group the stack creates: ``monitoring.retentionDays`` rounded up
    to a value CloudWatch Logs accepts."""
    model_bucket: str = ""
    """The model repository bucket; S3 and GCS share the name."""
    protect: bool = False
    """Stateful resources (clusters, buckets, KMS keys) are protected from deletion
    (``deletionProtection``, default true in prod)."""

    @classmethod
    def of(cls, config: StackConfig, stack: str) -> StackContext:
        """The context of ``config`` deployed as stack ``stack``."""
        return cls(
            config=config,
            stack=stack,
            base_tags=tags.base_tags(
                environment=config.environment.value,
                cost_center=config.cost_center,
                team=config.team,
                stack=stack,
            ),
            # CloudWatch Logs takes a retention only from a fixed set (15 is refused).
            log_retention_days=cloudwatch_retention_days(
                config.monitoring.retention_days
                if config.monitoring
                else DEFAULT_LOG_RETENTION_DAYS
            ),
            model_bucket=(config.serving.model_repository_bucket if config.serving else None)
            or f"{stack}-model-repo",
            protect=config.protects_stateful,
        )

    def name(self, *parts: str) -> str:
        """A resource name of this stack: ``<stack>-<part>-<part>``."""
        return "-".join((self.stack, *parts))


def raw_config() -> dict[str, Any]:
    """This stack's configuration as the Pulumi engine hands it to the program."""
    raw: dict[str, Any] = dict(pulumi.runtime.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    return raw


def load() -> StackContext:
    """Read and validate this stack's configuration: the program's only config read.

    On a user mistake it raises ``pulumi.RunError`` with every issue listed, so
    Pulumi prints the message without a traceback and registers nothing.
    """
    stack = pulumi.get_stack()
    path = stack_file(stack)
    text = path.read_text(encoding="utf-8") if path.exists() else None
    try:
        config = validate_config(raw_config(), StackSource(display_path(path), text))
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    return StackContext.of(config, stack)


def secret(key: str) -> pulumi.Output[str] | None:
    """A stack secret (``blueprint.schema.SECRET_KEYS``), read with Pulumi's secret API so it
    stays ``[secret]`` in state, plans and outputs; None when the stack does not set it."""
    if key not in SECRET_KEYS:
        raise KeyError(f"{key} is not one of the blueprint's secret keys ({sorted(SECRET_KEYS)})")
    return pulumi.Config(NAMESPACE).get_secret(key)


def secret_object(key: str) -> pulumi.Output[Any] | None:
    """A structured stack secret (set leaf by leaf with ``--secret --path``), parsed, kept
    secret; None when the stack does not set it."""
    if key not in SECRET_KEYS:
        raise KeyError(f"{key} is not one of the blueprint's secret keys ({sorted(SECRET_KEYS)})")
    return pulumi.Config(NAMESPACE).get_secret_object(key)


def required(value: T | None, key: str) -> T:
    """A value the config rules guarantee at this point of the composition.

    Not an ``assert``: it holds under ``python -O`` too, and names the key if a rule
    ever stops guaranteeing it.
    """
    if value is None:
        raise pulumi.RunError(
            f"{key} is required here, and the stack's config rules should have said so; "
            "please report this as a bug in the blueprint"
        )
    return value
