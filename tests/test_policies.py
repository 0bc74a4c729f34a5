"""The policy pack: every policy against compliant, violating and missing-property
resources; the shape of every policy and message; unknown values; the committed
stacks; the per-environment configuration file.

Policies run through :func:`policies.engine.evaluate`, which builds
``ResourceValidationArgs`` / ``StackValidationArgs`` the way the Pulumi engine does
and calls ``policy.validate(args, report_violation)``. The PolicyPack itself is
never constructed here (it starts a gRPC server and blocks).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policies.config import PolicyConfigError, PolicySetting, load, render
from policies.engine import PlanView, Report, engine_props, evaluate
from policies.readme import policy_table
from policies.registry import BY_NAME, POLICIES, domain
from tests.conftest import STACKS
from tests.policy_cases import Case, cases, providers, rec
from tests.policy_cases_hardening import cases as hardening_cases
from tools.preview.recorder import Plan

CASES = cases() + hardening_cases()


def run(case: Case) -> Report:
    policy = BY_NAME[case.policy]
    settings = {case.policy: PolicySetting(EnforcementLevel.MANDATORY, case.config)}
    plan = {"stack": "test", "resources": case.resources}
    return evaluate(plan, settings, "test", policies=[policy])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_policy_case(case: Case) -> None:
    report = run(case)
    messages = [v.message for v in report.verdicts]
    assert not report.unknown, report.unknown
    if case.kind == "ok" or not case.expect:
        assert messages == [], f"{case.id}: expected no violation, got {messages}"
        return
    assert messages, f"{case.id}: expected a violation"
    for want in case.expect:
        assert any(want in m for m in messages), (
            f"{case.id}: no message contains {want!r}: {messages}"
        )


def test_every_policy_has_a_compliant_violating_and_missing_case() -> None:
    kinds: dict[str, set[str]] = {}
    for case in CASES:
        kinds.setdefault(case.policy, set()).add(case.kind)
    for policy in POLICIES:
        assert kinds.get(policy.name) == {"ok", "bad", "missing"}, policy.name
    assert len(POLICIES) >= 25


def test_violating_cases_fail_and_name_the_fix() -> None:
    """A violating case must produce at least one violation (a vacuous 'bad' case would
    make the table above meaningless)."""
    for case in CASES:
        if case.kind == "bad":
            assert case.expect, case.id
            assert run(case).verdicts, case.id


def test_policy_names_descriptions_levels_and_domains() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names)), "duplicate policy names"
    for policy in POLICIES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", policy.name), policy.name
        assert policy.description.endswith("."), policy.name
        assert len(policy.description) > 30, policy.name
        assert policy.enforcement_level in {EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY}
        assert domain(policy) in {"cost", "reliability", "security"}, policy.name
        assert policy.remediation_steps, policy.name
        assert isinstance(policy, ResourceValidationPolicy | StackValidationPolicy)
    for wanted in ("cost", "reliability", "security"):
        assert sum(domain(p) == wanted for p in POLICIES) >= 8, wanted


MESSAGE = re.compile(r"^\S+ \(\S+\): .+ (= .+|is not set): .+\. Fix: .{10,}")


def test_every_violation_names_resource_property_value_and_fix() -> None:
    seen = set()
    for case in CASES:
        for verdict in run(case).verdicts:
            assert MESSAGE.match(verdict.message), verdict.message
            seen.add(verdict.policy)
    assert seen == {p.name for p in POLICIES}, "some policy never produced a message"


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "ok"], ids=lambda c: c.policy)
def test_unknown_values_are_reported_as_unknown_not_as_crashes(case: Case) -> None:
    """During a real preview, outputs of other resources are unknown. Replace every
    top-level input of the case's non-provider resources with the engine's unknown
    sentinel: the policy must raise UnknownValueError (the engine reports 'cannot
    check during preview'), pass, or report; never fail another way."""
    unknown = []
    for r in case.resources:
        if r["type"].startswith("pulumi:providers:"):
            unknown.append(r)
            continue
        unknown.append({**r, "inputs": dict.fromkeys(r["inputs"], UNKNOWN_STRING_VALUE)})
    run(Case(case.policy, "ok", unknown, config=case.config))  # raises RuntimeError on a crash


def test_unknown_value_raises_from_the_proxy() -> None:
    """The props the engine builds raise on unknown values, as Pulumi's do."""
    props = engine_props({"metadataOptions": {"httpTokens": UNKNOWN_STRING_VALUE}})
    with pytest.raises(UnknownValueError):
        _ = props["metadataOptions"]["httpTokens"]


def test_numbers_arrive_as_floats_and_containers_read_only() -> None:
    props = engine_props({"scalingConfig": {"maxSize": 4}, "instanceTypes": ["g6.xlarge"]})
    assert props["scalingConfig"]["maxSize"] == 4.0
    assert isinstance(props["scalingConfig"]["maxSize"], float)
    with pytest.raises(TypeError):
        props["instanceTypes"][0] = "x"  # type: ignore[index]


def test_stack_args_follow_parents_and_property_dependencies() -> None:
    bucket = rec("aws:s3/bucket:Bucket", "b", {"bucket": "b"})
    block = rec(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "b-pab",
        {"bucket": "b-id"},
        deps={"bucket": [bucket["urn"]]},
    )
    view = PlanView({"resources": [*providers(), bucket, block]})
    resources = {r.name: r for r in view.stack_resources()}
    args = StackValidationArgs(list(resources.values()), {})
    assert args.resources
    assert resources["b-pab"].property_dependencies["bucket"] == [resources["b"]]
    assert resources["b-pab"].provider is not None
    assert resources["b-pab"].provider.resource_type == "pulumi:providers:aws"


# ---------------------------------------------------------------------------
# The committed stacks


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stacks_pass_their_mandatory_policies(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    env = plan.outputs.get("environment", stack)
    report = evaluate(plan.to_json(), load()[env], env)
    assert not report.mandatory, "\n".join(v.message for v in report.mandatory)
    assert len(report.ran) + len(report.disabled) == len(POLICIES)


# ---------------------------------------------------------------------------
# The configuration file


def test_the_committed_policy_configuration_loads_for_every_environment() -> None:
    settings = load()
    assert set(settings) == {"dev", "staging", "prod", "edge"}
    assert settings["prod"]["min-replicas"].level is EnforcementLevel.MANDATORY
    assert settings["dev"]["min-replicas"].level is EnforcementLevel.DISABLED
    assert settings["dev"]["gpu-pool-floor"].properties["maxAlwaysOnNodes"] == 0
    assert settings["prod"]["triton-model-control"].properties["allowPoll"] is False
    rendered = render("prod")
    assert set(rendered) == set(BY_NAME)
    assert rendered["gpu-pool-ceiling"] == {
        "enforcementLevel": "mandatory",
        "maxNodes": 16.0,
        "maxGpus": 128.0,
    }


BAD_CONFIG = """\
defaults:
  log-retention: {maxDayz: 30}
environments:
  prod:
    gpu-pool-cieling: mandatory
    min-replicas: {enforcementLevel: strict}
    pdb-for-serving: sometimes
  qa:
    budget-per-stack: advisory
  dev:
    gpu-pool-floor: {maxAlwaysOnNodes: -1}
"""


def test_a_bad_policy_configuration_names_file_line_key_value_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "environments.yaml"
    path.write_text(BAD_CONFIG)
    with pytest.raises(PolicyConfigError) as err:
        load(path)
    text = str(err.value)
    expected = [
        ":2: defaults.log-retention.maxDayz: is not a property of log-retention; "
        "it takes maxDays, minDays",
        ":5: environments.prod.gpu-pool-cieling: is not a policy of the pack; "
        "did you mean gpu-pool-ceiling? (got 'gpu-pool-cieling')",
        ":6: environments.prod.min-replicas.enforcementLevel: must be one of mandatory, "
        "advisory, disabled (got 'strict')",
        ":7: environments.prod.pdb-for-serving: must be one of mandatory, advisory, "
        "disabled (got 'sometimes')",
        ":8: environments.qa: is not an environment; known: dev, staging, prod, edge (got 'qa')",
        ":11: environments.dev.gpu-pool-floor.maxAlwaysOnNodes: Input should be greater "
        "than or equal to 0 (environment dev) (got -1)",
    ]
    for line in expected:
        assert line in text, f"{line!r} not in:\n{text}"


# ---------------------------------------------------------------------------
# The README lists every policy


def test_policies_readme_lists_every_policy_as_the_code_says() -> None:
    readme = (Path(__file__).resolve().parents[1] / "policies" / "README.md").read_text()
    assert policy_table() in readme, "policies/README.md is stale: run python -m policies.readme"


# ---------------------------------------------------------------------------
# The pack as the Pulumi CLI loads it


def test_rendered_config_satisfies_each_policys_json_schema() -> None:
    """What `python -m policies.config render <env>` prints is what the Pulumi CLI
    validates against each policy's config schema; it must pass."""
    import jsonschema  # noqa: PLC0415 (a test-only dependency)

    for env in ("dev", "staging", "prod", "edge"):
        for name, entry in render(env).items():
            schema = BY_NAME[name].config_schema
            props = {k: v for k, v in entry.items() if k != "enforcementLevel"}
            if schema is None:
                assert props == {}, name
                continue
            jsonschema.validate(
                props,
                {"type": "object", "properties": schema.properties, "additionalProperties": False},
            )


def test_main_only_assembles_the_pack() -> None:
    """policies/__main__.py defines no policy: it imports the list and builds the pack."""
    import ast  # noqa: PLC0415

    tree = ast.parse((Path(__file__).resolve().parents[1] / "policies" / "__main__.py").read_text())
    assert not [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    calls = [
        n.value.func.id
        for n in tree.body
        if isinstance(n, ast.Expr)
        and isinstance(n.value, ast.Call)
        and isinstance(n.value.func, ast.Name)
    ]
    assert calls == ["PolicyPack"]
    pack_yaml = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "policies" / "PulumiPolicy.yaml").read_text()
    )
    assert pack_yaml["runtime"]["name"] == "python"
    # The pack's own virtualenv: tests/test_policy_pack.py
    assert pack_yaml["runtime"]["options"]["virtualenv"] == "venv"
