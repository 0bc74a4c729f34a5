"""What every policy needs: safe reads of props, messages that say how to fix, and the
small factory that turns a validation function into a CrossGuard policy.

Props arrive as the engine hands them over: camelCase keys, numbers as floats,
containers as read-only ``Mapping``/``Sequence`` proxies that raise
``UnknownValueError`` when a value is not known during preview. The readers here
never swallow that error: the engine reports it as "cannot check during preview".
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

DOMAINS = ("cost", "reliability", "security")
"""Every policy belongs to one domain; the domain is the policy's first tag."""

_ABSENT: Any = object()


class Resource(Protocol):
    """What resource and stack validations both see of a resource."""

    resource_type: str
    name: str
    urn: str
    props: Mapping[str, Any]


# ---------------------------------------------------------------------------
# Reading props


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """``obj[path[0]][path[1]]...``, or ``default`` where a step is missing."""
    node = obj
    for step in path:
        if isinstance(step, int):
            if not is_list(node) or not -len(node) <= step < len(node):
                return default
            node = node[step]
        else:
            if not isinstance(node, Mapping) or step not in node:
                return default
            node = node[step]
        if node is None:
            return default
    return node


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def items(value: Any) -> list[Any]:
    """A sequence prop as a list; anything else as an empty list."""
    return list(value) if is_list(value) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def truthy(value: Any) -> bool | None:
    """A boolean prop, which some providers (pulumi-aws launch templates) type as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def json_doc(value: Any) -> Any:
    """A JSON document prop (IAM policies, provider default tags): parsed, or None."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    if isinstance(value, Mapping | list):
        return value
    return None


def plain(value: Any) -> Any:
    """A proxy as plain Python data (for printing); unknown values stay as they are."""
    if isinstance(value, Mapping):
        return {str(k): plain(value[k]) for k in value}
    if is_list(value):
        return [plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------
# Messages


class Named:
    """A subject for a message about something that is missing from a stack."""

    def __init__(self, name: str, resource_type: str) -> None:
        self.name = name
        self.resource_type = resource_type


def subject(res: Resource | ResourceValidationArgs | Named) -> str:
    return f"{res.name} ({res.resource_type})"


def shown(value: Any) -> str:
    if value is _ABSENT:
        return "is not set"
    text = json.dumps(plain(value), sort_keys=True, default=str)
    if len(text) > 160:
        text = text[:157] + "..."
    return f"= {text}"


def message(
    res: Resource | ResourceValidationArgs | Named,
    prop: str,
    value: Any,
    problem: str,
    fix: str,
) -> str:
    """``<name> (<type>): <property> = <value>: <problem>. Fix: <fix>``.

    Every violation names the resource, the property, the bad value (or says it is
    not set) and the fix; the meta-tests hold every policy to this shape.
    """
    return f"{subject(res)}: {prop} {shown(value)}: {problem}. Fix: {fix}"


NOT_SET: Any = _ABSENT
"""Pass as ``value`` to :func:`message` when the property is missing."""


def value_or_unset(obj: Any, *path: str | int) -> Any:
    found = get(obj, *path, default=_ABSENT)
    return found


# ---------------------------------------------------------------------------
# Policy configuration


class PolicyConfig(BaseModel):
    """Base of every policy's configuration: camelCase keys, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class NoConfig(PolicyConfig):
    """A policy that takes no properties (only an enforcement level)."""


CONFIG_MODELS: dict[str, type[PolicyConfig]] = {}
"""Policy name -> its configuration model (the pack config schema derives from it)."""

C = TypeVar("C", bound=PolicyConfig)


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def config_schema(model: type[PolicyConfig]) -> PolicyConfigSchema | None:
    """The JSON schema ``pulumi preview --policy-pack-config`` checks a policy's properties
    against, derived from the same model the offline loader validates with."""
    schema = model.model_json_schema(by_alias=True)
    props = _strip_titles(schema.get("properties") or {})
    if not props:
        return None
    return PolicyConfigSchema(properties=props, required=None)


def parse_config(model: type[C], raw: Mapping[str, Any] | None) -> C:
    return model.model_validate(dict(raw or {}))


Level = EnforcementLevel
SEVERITY = {"cost": Severity.MEDIUM, "reliability": Severity.HIGH, "security": Severity.HIGH}


def resource_policy(
    *,
    name: str,
    domain: str,
    description: str,
    level: EnforcementLevel,
    fix: str,
    check: Callable[[ResourceValidationArgs, ReportViolation, C], None],
    config: type[C],
) -> ResourceValidationPolicy:
    """A resource policy whose ``check`` gets its parsed configuration as a third argument."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        check(args, report, parse_config(config, args.get_config()))

    CONFIG_MODELS[name] = config
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=config_schema(config),
        severity=SEVERITY[domain],
        tags=[domain],
        remediation_steps=fix,
    )


def stack_policy(
    *,
    name: str,
    domain: str,
    description: str,
    level: EnforcementLevel,
    fix: str,
    check: Callable[[StackValidationArgs, ReportViolation, C], None],
    config: type[C],
) -> StackValidationPolicy:
    """A stack policy whose ``check`` gets its parsed configuration as a third argument."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        check(args, report, parse_config(config, args.get_config()))

    CONFIG_MODELS[name] = config
    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=config_schema(config),
        severity=SEVERITY[domain],
        tags=[domain],
        remediation_steps=fix,
    )


# ---------------------------------------------------------------------------
# Kubernetes workloads

_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:Pod": (),
}
WORKLOAD_TYPES = frozenset(_POD_SPEC_PATHS)


def pod_template(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod (``{metadata, spec}``) a workload runs, or None for other types."""
    path = _POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    node = get(props, *path) if path else props
    return node if isinstance(node, Mapping) else {}


def pod_spec_path(resource_type: str) -> str:
    """Where a workload's pod spec sits, for messages: ``spec.template.spec``, or
    ``spec.jobTemplate.spec.template.spec`` for a CronJob, ``spec`` for a Pod."""
    return ".".join((*_POD_SPEC_PATHS.get(resource_type, ("spec", "template")), "spec"))


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    template = pod_template(resource_type, props)
    return None if template is None else mapping(get(template, "spec"))


def pod_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    template = pod_template(resource_type, props)
    return mapping(get(template, "metadata", "labels"))


def containers(spec: Mapping[str, Any], *, init: bool = True) -> Iterator[tuple[str, Any]]:
    """``(path, container)`` for every container (and init container) of a pod spec."""
    kinds = ("containers", "initContainers") if init else ("containers",)
    for kind in kinds:
        for i, container in enumerate(items(get(spec, kind))):
            yield f"{kind}[{i}]", container


def namespace_of(props: Mapping[str, Any]) -> str:
    return str(get(props, "metadata", "namespace", default="default"))


def command_line(container: Any) -> list[str]:
    """A container's command and args as one argv; ``sh -c "..."`` scripts are split."""
    argv: list[str] = []
    for part in items(get(container, "command")) + items(get(container, "args")):
        text = str(part)
        if " " in text.strip():
            try:
                argv.extend(shlex.split(text))
            except ValueError:
                argv.extend(text.split())
        else:
            argv.append(text)
    return argv


def is_triton(container: Any) -> bool:
    image = str(get(container, "image", default=""))
    if "tritonserver" in image:
        return True
    return any(arg.rsplit("/", 1)[-1] == "tritonserver" for arg in command_line(container))


def is_vllm(container: Any) -> bool:
    """vLLM's OpenAI-compatible server: the LLM tier's engine."""
    image = str(get(container, "image", default=""))
    if "vllm-openai" in image:
        return True
    return any("vllm.entrypoints" in arg for arg in command_line(container))


def is_serving(container: Any) -> bool:
    """An inference server of the blueprint: Triton, or vLLM for the LLM tier."""
    return is_triton(container) or is_vllm(container)


def is_serving_workload(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A workload that serves models: Triton or the LLM tier's vLLM (the serving
    policies hold both to the same rules: probes, replicas, disruption budgets, labels)."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return False
    return any(is_serving(c) for _, c in containers(spec, init=False))


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A Kubernetes label selector (matchLabels + matchExpressions) against labels."""
    sel = mapping(selector)
    match_labels = mapping(get(sel, "matchLabels"))
    expressions = items(get(sel, "matchExpressions"))
    if not match_labels and not expressions:
        return False  # an empty selector in a monitor or PDB selects nothing useful
    for key in match_labels:
        if str(labels.get(key)) != str(match_labels[key]) or key not in labels:
            return False
    for expr in expressions:
        key = str(get(expr, "key", default=""))
        op = str(get(expr, "operator", default=""))
        values = {str(v) for v in items(get(expr, "values"))}
        present = key in labels
        if op == "In" and not (present and str(labels[key]) in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


# ---------------------------------------------------------------------------
# Stack helpers


def referrers(resources: Sequence[Any], target: Any, prop: str) -> list[Any]:
    """Resources whose ``prop`` depends on ``target`` (bucket -> its public-access block).

    Property dependencies are how the engine records that an input came from
    another resource's output; a name typed as a string would not show up here,
    so a literal match on the target's ``bucket``/``id`` is accepted too.
    """
    out = []
    for res in resources:
        deps = res.property_dependencies.get(prop) or []
        if any(d is target or getattr(d, "urn", None) == target.urn for d in deps):
            out.append(res)
            continue
        literal = get(res.props, prop)
        names = {get(target.props, "bucket"), get(target.props, "name"), target.name}
        if isinstance(literal, str) and literal in {n for n in names if isinstance(n, str)}:
            out.append(res)
    return out
