"""Run the policy pack against a recorded plan, as the Pulumi engine would run it.

The engine's analyzer (``pulumi_policy.policy._PolicyAnalyzerServicer``) gets each
resource's inputs as a protobuf ``Struct``, turns it into a dict with
``json_format.MessageToDict`` (so every number is a float), wraps it in
``unknown_checking_proxy`` and builds ``ResourceValidationArgs`` for resource
policies (custom resources only) or ``PolicyResource`` objects, linked by parent,
dependencies and property dependencies, for stack policies. This module does the
same from ``build/plan/<stack>.json``, with each policy's enforcement level and
properties from the environment's configuration (:mod:`policies.config`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policies.config import PolicySetting
from policies.registry import POLICIES


@dataclass(frozen=True)
class Verdict:
    policy: str
    level: str
    """mandatory or advisory."""
    message: str
    urn: str | None
    resource: str | None


@dataclass
class Report:
    stack: str
    environment: str
    verdicts: list[Verdict] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Policies that could not run on a resource because a value was unknown."""
    ran: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.level == EnforcementLevel.MANDATORY.value]

    @property
    def advisory(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.level == EnforcementLevel.ADVISORY.value]

    def failed_policies(self, level: str) -> set[str]:
        return {v.policy for v in self.verdicts if v.level == level}


def engine_props(inputs: Mapping[str, Any]) -> Any:
    """Inputs as the engine hands them to a policy: through a protobuf Struct (numbers
    become floats), deserialized, behind the unknown-checking proxy."""
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(inputs), struct)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _options(res: Mapping[str, Any]) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=bool(res.get("protect", False)),
        ignore_changes=[],
        delete_before_replace=None,
        aliases=list(res.get("aliases") or []),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=res.get("parent"),
    )


class PlanView:
    """A plan's resources in the forms the policies receive them."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.records: list[Mapping[str, Any]] = [
            r for r in plan.get("resources", []) if not r.get("read")
        ]
        self._by_urn = {r["urn"]: r for r in self.records}
        self._providers: dict[str, PolicyProviderResource] = {}

    def provider(self, record: Mapping[str, Any]) -> PolicyProviderResource | None:
        urn = record.get("provider")
        if not urn or urn not in self._by_urn:
            return None
        if urn not in self._providers:
            prov = self._by_urn[urn]
            self._providers[urn] = PolicyProviderResource(
                prov["type"], engine_props(prov["inputs"]), urn, prov["name"]
            )
        return self._providers[urn]

    def resource_args(
        self, record: Mapping[str, Any], config: Mapping[str, Any]
    ) -> ResourceValidationArgs:
        return ResourceValidationArgs(
            record["type"],
            engine_props(record["inputs"]),
            record["urn"],
            record["name"],
            _options(record),
            self.provider(record),
            dict(config),
        )

    def stack_resources(self) -> list[PolicyResource]:
        built = {
            r["urn"]: PolicyResource(
                r["type"],
                engine_props(r["inputs"]),
                r["urn"],
                r["name"],
                _options(r),
                self.provider(r),
                None,
                [],
                {},
            )
            for r in self.records
        }
        for r in self.records:
            res = built[r["urn"]]
            res.parent = built.get(r.get("parent") or "")
            res.dependencies = [built[d] for d in r.get("dependencies", []) if d in built]
            res.property_dependencies = {
                k: [built[d] for d in v if d in built]
                for k, v in (r.get("propertyDependencies") or {}).items()
            }
        return list(built.values())


def evaluate(
    plan: Mapping[str, Any],
    settings: Mapping[str, PolicySetting],
    environment: str,
    policies: Sequence[Policy] = POLICIES,
) -> Report:
    """Every enabled policy against the plan; the verdicts with their levels."""
    view = PlanView(plan)
    report = Report(stack=str(plan.get("stack")), environment=environment)
    stack_resources: list[PolicyResource] | None = None
    for policy in policies:
        setting = settings.get(policy.name)
        level = (
            setting.level if setting else (policy.enforcement_level or EnforcementLevel.ADVISORY)
        )
        if level is EnforcementLevel.DISABLED:
            report.disabled.append(policy.name)
            continue
        if level is EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY
        config = setting.properties if setting else {}
        report.ran.append(policy.name)
        if isinstance(policy, ResourceValidationPolicy):
            for record in view.records:
                if not record.get("custom"):
                    continue  # the engine analyzes custom resources only
                args = view.resource_args(record, config)

                def violation(
                    msg: str,
                    urn: str | None = None,
                    *,
                    _r: Any = record,
                    _p: str = policy.name,
                    _l: str = level.value,
                ) -> None:
                    report.verdicts.append(Verdict(_p, _l, msg, _r["urn"], _r["name"]))

                _run(policy, args, violation, report, record["urn"])
        elif isinstance(policy, StackValidationPolicy):
            if stack_resources is None:
                stack_resources = view.stack_resources()
            names = {r.urn: r.name for r in stack_resources}
            args_s = StackValidationArgs(stack_resources, dict(config))

            def stack_violation(
                msg: str,
                urn: str | None = None,
                *,
                _p: str = policy.name,
                _l: str = level.value,
                _n: dict[str, str] = names,
            ) -> None:
                report.verdicts.append(Verdict(_p, _l, msg, urn, _n.get(urn or "")))

            _run(policy, args_s, stack_violation, report, None)
    return report


def _run(policy: Policy, args: Any, violation: Any, report: Report, urn: str | None) -> None:
    try:
        policy.validate(args, violation)  # type: ignore[attr-defined]
    except UnknownValueError as exc:
        report.unknown.append(f"{policy.name} on {urn or 'the stack'}: {exc.message}")
    except _NotApplicableError:
        pass
    except Exception as exc:
        raise RuntimeError(f"policy {policy.name} failed on {urn or 'the stack'}: {exc!r}") from exc


def report_lines(report: Report) -> list[str]:
    """The verdicts as ``make preview`` prints them: mandatory first."""
    n_m, n_a = len(report.mandatory), len(report.advisory)
    head = (
        f"policies ({report.environment}): {len(report.ran)} run, {len(report.disabled)} "
        f"disabled; {n_m} mandatory violation{'s' if n_m != 1 else ''} "
        f"({len(report.failed_policies('mandatory'))} policies), {n_a} advisory"
    )
    lines = [head]
    for v in sorted(report.verdicts, key=lambda v: (v.level != "mandatory", v.policy, v.message)):
        lines.append(f"  [{v.level}] {v.policy}: {v.message}")
    for note in report.unknown:
        lines.append(f"  [unknown] {note}")
    return lines
