"""Preview stacks offline: validate each stack file, record its program, write its plan."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from blueprint.config import ConfigError, ConfigIssue, read_stack_file, stack_file, validate_config
from blueprint.paths import STACK_DIR, display_path
from blueprint.schema import StackConfig
from tools.preview.recorder import PROGRAM, Plan, record_program


@dataclass
class StackResult:
    stack: str
    plan: Plan | None
    config: StackConfig | None
    error: ConfigError | None = None


def core_of(config: StackConfig) -> str | None:
    """The stack an edge stack refers to (last part of ``edge.coreStack``)."""
    return config.edge.core_stack.rsplit("/", 1)[-1] if config.edge else None


def preview_stacks(
    stacks: Sequence[str], stack_dir: Path = STACK_DIR, program: Path = PROGRAM
) -> list[StackResult]:
    """Preview ``stacks`` in one process; a referenced core stack is previewed first.

    A stack whose configuration is invalid is reported and skipped: nothing of it
    is recorded. A stack an edge stack refers to but that was not asked for is
    previewed for its outputs and left out of the results.
    """
    loaded: dict[str, tuple[dict[str, Any], StackConfig | None, ConfigError | None]] = {}

    def load(stack: str) -> None:
        if stack in loaded:
            return
        try:
            raw, source = read_stack_file(stack_file(stack, stack_dir))
            loaded[stack] = (raw, validate_config(raw, source), None)
        except ConfigError as exc:
            loaded[stack] = ({}, None, exc)

    for stack in stacks:
        load(stack)
    order = _order(stacks, loaded, load, stack_dir)

    outputs: dict[str, dict[str, Any]] = {}
    results: dict[str, StackResult] = {}
    for stack in order:
        raw, config, error = loaded[stack]
        if config is None:
            results[stack] = StackResult(stack, None, None, error)
            continue
        core = core_of(config)
        if core is not None and core not in outputs:
            results[stack] = StackResult(stack, None, config, _missing_core(stack, core, stack_dir))
            continue
        try:
            plan = record_program(stack, raw, outputs, program=program)
        except pulumi.RunError as exc:
            # A check the program makes against other stacks' outputs (the edge
            # against its core): reported like a configuration error, no traceback.
            path = display_path(stack_file(stack, stack_dir))
            results[stack] = StackResult(
                stack, None, config, ConfigError(path, [ConfigIssue((), str(exc))])
            )
            continue
        outputs[stack] = plan.outputs
        results[stack] = StackResult(stack, plan, config)
    return [results[s] for s in stacks]


def _order(
    stacks: Iterable[str],
    loaded: dict[str, tuple[dict[str, Any], StackConfig | None, ConfigError | None]],
    load: Any,
    stack_dir: Path,
) -> list[str]:
    order: list[str] = []
    for stack in stacks:
        config = loaded[stack][1]
        core = core_of(config) if config else None
        if core is not None and core not in order and stack_file(core, stack_dir).exists():
            load(core)
            order.append(core)
        if stack not in order:
            order.append(stack)
    return order


def _missing_core(stack: str, core: str, stack_dir: Path) -> ConfigError:
    why = (
        f"there is no stack file {display_path(stack_file(core, stack_dir))}"
        if not stack_file(core, stack_dir).exists()
        else f"stack {core} has configuration errors"
    )
    return ConfigError(
        display_path(stack_file(stack, stack_dir)),
        [ConfigIssue(("edge", "coreStack"), f"the core stack cannot be previewed: {why}", core)],
    )


def write_plan(plan: Plan, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{plan.stack}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(plan.dumps())
    tmp.replace(path)
    return path
