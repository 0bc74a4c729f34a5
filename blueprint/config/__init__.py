"""Stack configuration: one typed schema, validated with every error at once.

``from_pulumi()`` is the only reader of Pulumi config in the blueprint; the stack
program passes the frozen :class:`StackConfig` it returns to the components.
"""

from blueprint.config.errors import ConfigError, ConfigIssue
from blueprint.config.loader import (
    from_pulumi,
    load_stack_file,
    read_stack_file,
    stack_file,
    validate_config,
)
from blueprint.config.schema import NAMESPACE, Cloud, Environment, StackConfig, Tier

__all__ = [
    "NAMESPACE",
    "Cloud",
    "ConfigError",
    "ConfigIssue",
    "Environment",
    "StackConfig",
    "Tier",
    "from_pulumi",
    "load_stack_file",
    "read_stack_file",
    "stack_file",
    "validate_config",
]
