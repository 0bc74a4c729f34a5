"""Pulumi ESC environments a stack file imports, as the offline preview stands them in.

A stack file may import ESC environments (``environment: [my-project/prod]``); the
Pulumi CLI opens them and hands their ``values.pulumiConfig`` to the program as stack
configuration, under the stack file's own keys (which win). Offline, nothing can open
an environment, so the preview reads a *placeholder file* per environment instead:

``stacks/esc/<environment name>.yaml``, the environment's ``values.pulumiConfig`` block
with made-up values, for example ``stacks/esc/my-project/prod.yaml``::

    values:
      pulumiConfig:
        llm-inference:costCenter: ml-platform
        llm-inference:hubToken:
          fn::secret: placeholder     # never a real secret: this file is committed

A ``fn::secret`` value is never read: it stands in as an encrypted value
(``{secure: …}``) so the preview hands the program its offline placeholder and marks
it secret, exactly as for ``pulumi config set --secret``. A missing placeholder file is
a user mistake the preview names (which environment, which file to write); it never
reads as "required key is missing".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blueprint.config import yamlsafe
from blueprint.config.errors import ConfigError, ConfigIssue, PathPart
from blueprint.paths import display_path
from blueprint.schema import NAMESPACE

ESC_FOLDER = "esc"
"""The placeholder files' folder, beside the stack files."""

_SECRET = "fn::secret"  # noqa: S105 (ESC's secret tag, not a password)


@dataclass(frozen=True)
class EscImport:
    """One imported environment and the keys its placeholder file supplies."""

    name: str
    file: str
    keys: tuple[str, ...]
    secret_keys: tuple[str, ...]

    def note(self) -> str:
        keys = ", ".join(self.keys) if self.keys else "no keys"
        secret = f" ({len(self.secret_keys)} secret, never read)" if self.secret_keys else ""
        return (
            f"ESC environment '{self.name}' is not opened offline: the preview stands in "
            f"{keys}{secret} from {self.file}"
        )


def environment_names(value: Any, source: str) -> list[str]:
    """The environments of a stack file's ``environment:`` key (a list of names; the
    older ``{imports: [...]}`` form too), or a ConfigError saying what is accepted."""
    if isinstance(value, Mapping) and set(value) == {"imports"}:
        value = value["imports"]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ConfigError(
            source,
            [
                ConfigIssue(
                    (),
                    "'environment' must be a list of Pulumi ESC environment names, "
                    "such as [my-project/prod]",
                    value,
                    full_key="environment",
                )
            ],
        )
    return [str(v).strip() for v in value]


def _at(line: int | None) -> Callable[[tuple[PathPart, ...]], int | None]:
    return lambda _path: line


def placeholder_file(name: str, stack_dir: Path) -> Path:
    return stack_dir / ESC_FOLDER / f"{name}.yaml"


def offline_values(
    names: list[str], stack_dir: Path, source: str
) -> tuple[dict[str, Any], list[EscImport]]:
    """The configuration the environments would supply, from their placeholder files,
    merged in order (a later environment wins, as ESC merges them)."""
    merged: dict[str, Any] = {}
    imports: list[EscImport] = []
    issues: list[ConfigIssue] = []
    for name in names:
        path = placeholder_file(name, stack_dir)
        shown = display_path(path)
        if ".." in Path(name).parts or Path(name).is_absolute():
            issues.append(
                ConfigIssue((), "is not an ESC environment name", name, full_key="environment")
            )
            continue
        if not path.is_file():
            issues.append(
                ConfigIssue(
                    (),
                    f"imports ESC environment '{name}', which the offline preview cannot "
                    f"open; write the keys it supplies (its values.pulumiConfig, with "
                    f"placeholder values) to {shown} (see stacks/esc/README.md)",
                    full_key="environment",
                )
            )
            continue
        try:
            doc = yamlsafe.load(yamlsafe.decode(path.read_bytes()))
        except yamlsafe.YamlRefused as exc:
            raise ConfigError(shown, [ConfigIssue((), exc.message)], _at(exc.line)) from None
        values = doc.get("values") if isinstance(doc, dict) else None
        block = values.get("pulumiConfig", {}) if isinstance(values, dict) else None
        if not isinstance(block, dict):
            raise ConfigError(
                shown,
                [
                    ConfigIssue(
                        (),
                        "must be an ESC environment document with a 'values: pulumiConfig:' "
                        "mapping of config keys to placeholder values",
                    )
                ],
            )
        keys, secret = [], []
        for key, value in block.items():
            full = str(key) if ":" in str(key) else f"{NAMESPACE}:{key}"
            keys.append(full)
            if isinstance(value, Mapping) and _SECRET in value:
                secret.append(full)
                merged[full] = {"secure": f"esc:{name}"}  # never the file's value
            else:
                merged[full] = value
        imports.append(EscImport(name, shown, tuple(keys), tuple(secret)))
    if issues:
        raise ConfigError(source, issues)
    return merged, imports
