"""Preview stacks offline: validate each stack file, record its program, write its plan."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from blueprint.config import ConfigError, ConfigIssue, read_stack_file, stack_file, validate_config
from blueprint.monitoring import alertmanager
from blueprint.paths import STACK_DIR, display_path
from blueprint.schema import NAMESPACE, StackConfig
from tools.preview.mocks import BlueprintMocks
from tools.preview.recorder import PROGRAM, Plan, RecordingMonitor, record_program


@dataclass
class StackResult:
    stack: str
    plan: Plan | None
    config: StackConfig | None
    error: ConfigError | None = None
    notes: list[str] = field(default_factory=list)
    """What the preview stood in for what it cannot reach (ESC environments)."""
    placeholders: tuple[str, ...] = ()
    """Secrets the stack needs but its file does not set, given offline placeholders."""


def secrets_needed(config: StackConfig) -> dict[str, str]:
    """Full secret key -> the setting that needs it (the receivers' secrets)."""
    if config.monitoring is None:
        return {}
    return {
        f"{NAMESPACE}:{key}": why
        for key, why in alertmanager.required_secrets(config.monitoring).items()
    }


def core_of(config: StackConfig) -> str | None:
    """The stack an edge stack refers to (last part of ``edge.coreStack``)."""
    return config.edge.core_stack.rsplit("/", 1)[-1] if config.edge else None


StartHook = Callable[[str, bool, Callable[[], int]], None]
"""Called just before a stack's program runs: ``(stack, asked_for, registered_so_far)``.

``asked_for`` is false for a core stack previewed only for its outputs;
``registered_so_far()`` counts the resources the program has registered (progress)."""


def preview_stacks(
    stacks: Sequence[str],
    stack_dir: Path = STACK_DIR,
    program: Path = PROGRAM,
    *,
    require_secrets: bool = False,
) -> list[StackResult]:
    """Preview ``stacks`` in one process; a referenced core stack is previewed first.

    A stack whose configuration is invalid is reported and skipped: nothing of it
    is recorded. A stack an edge stack refers to but that was not asked for is
    previewed for its outputs and left out of the results. Results come in the
    order of ``stacks``.

    Secrets a stack needs (:func:`secrets_needed`) and its file does not set get
    offline placeholders, like encrypted ones (the preview never has real secrets);
    ``require_secrets`` leaves them missing, so the program refuses as ``pulumi
    preview`` would.
    """
    results = {
        r.stack: r
        for r in iter_preview(stacks, stack_dir, program, require_secrets=require_secrets)
    }
    return [results[s] for s in stacks]


def iter_preview(
    stacks: Sequence[str],
    stack_dir: Path = STACK_DIR,
    program: Path = PROGRAM,
    on_start: StartHook | None = None,
    *,
    require_secrets: bool = False,
) -> Iterator[StackResult]:
    """Like :func:`preview_stacks`, but each result as soon as its stack is done.

    Results come in the order the stacks run (a core before the edge that reads
    it), so a caller can report each stack while the next one is being recorded.
    """
    loaded: dict[str, tuple[dict[str, Any], StackConfig | None, ConfigError | None]] = {}
    notes: dict[str, list[str]] = {}

    def load(stack: str) -> None:
        if stack in loaded:
            return
        try:
            raw, source = read_stack_file(stack_file(stack, stack_dir))
            notes[stack] = [esc.note() for esc in source.imports]
            loaded[stack] = (raw, validate_config(raw, source), None)
        except ConfigError as exc:
            loaded[stack] = ({}, None, exc)

    for stack in stacks:
        load(stack)
    order = _order(stacks, loaded, load, stack_dir)

    asked = set(stacks)
    outputs: dict[str, dict[str, Any]] = {}
    for stack in order:
        result = _preview_one(
            stack,
            loaded=loaded[stack],
            outputs=outputs,
            stack_dir=stack_dir,
            program=program,
            on_start=on_start,
            asked=asked,
            require_secrets=require_secrets,
        )
        if result.plan is not None:
            outputs[stack] = result.plan.outputs
        result.notes = [*notes.get(stack, []), *result.notes]
        if stack in asked:
            yield result


def _preview_one(
    stack: str,
    *,
    loaded: tuple[dict[str, Any], StackConfig | None, ConfigError | None],
    outputs: dict[str, dict[str, Any]],
    stack_dir: Path,
    program: Path,
    on_start: StartHook | None,
    asked: set[str],
    require_secrets: bool = False,
) -> StackResult:
    raw, config, error = loaded
    if config is None:
        return StackResult(stack, None, None, error)
    core = core_of(config)
    if core is not None and core not in outputs:
        return StackResult(stack, None, config, _missing_core(stack, core, stack_dir))
    monitor = RecordingMonitor(BlueprintMocks(outputs))
    if on_start is not None:
        on_start(stack, stack in asked, lambda: len(monitor.records))
    missing = () if require_secrets else tuple(sorted(set(secrets_needed(config)) - set(raw)))
    try:
        plan = record_program(
            stack, raw, outputs, program=program, monitor=monitor, placeholders=missing
        )
    except pulumi.RunError as exc:
        # A check the program makes against other stacks' outputs (the edge
        # against its core): reported like a configuration error, no traceback.
        path = display_path(stack_file(stack, stack_dir))
        return StackResult(stack, None, config, ConfigError(path, [ConfigIssue((), str(exc))]))
    notes = []
    if missing:
        notes.append(
            f"secrets the stack file does not set get offline placeholders: "
            f"{', '.join(missing)}; before `pulumi up` set each with "
            "`pulumi config set --secret <key>` (monitoring/README.md, Receivers)"
        )
    return StackResult(stack, plan, config, notes=notes, placeholders=missing)


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
