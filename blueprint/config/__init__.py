"""Stack configuration: one typed schema, validated with every error at once.

The composition root (``composition/context.py``) is the only reader of Pulumi
config; it validates what it reads here and passes the frozen :class:`StackConfig`
on. Components never read config.
"""

from blueprint.config.errors import ConfigError, ConfigIssue
from blueprint.config.loader import (
    load_stack_file,
    read_stack_file,
    stack_file,
    validate_config,
)
from blueprint.schema import NAMESPACE, Cloud, Environment, StackConfig, Tier

__all__ = [
    "NAMESPACE",
    "Cloud",
    "ConfigError",
    "ConfigIssue",
    "Environment",
    "StackConfig",
    "Tier",
    "load_stack_file",
    "read_stack_file",
    "stack_file",
    "validate_config",
]
