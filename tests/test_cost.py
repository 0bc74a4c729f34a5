"""The cost estimate, make cost, the budget components and $/1M tokens, with numbers
worked out by hand from the catalog."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from blueprint.config import StackConfig
from blueprint.cost import estimate
from blueprint.cost.prices import HOURS_PER_MONTH, services
from blueprint.cost.tokens import REFERENCE_CHAT, Measured, read_measurements, token_cost
from components.aws.budget import AwsBudgetArgs, notifications
from components.gcp.budget import GcpBudgetArgs, threshold_rules
from tests.conftest import REPO
from tools.cost.__main__ import delta_lines, summary
from tools.preview.recorder import Plan

H = HOURS_PER_MONTH


def test_prod_heavy_h100_floor_and_ceiling_by_hand(configs: dict[str, StackConfig]) -> None:
    est = estimate(configs["prod"], "prod")
    line = next(x for x in est.lines if x.name == "heavy-h100")
    # floor: 1 on-demand p5.48xlarge. Burst: 3 nodes x 8 GPUs that Karpenter may fill
    # with p5.4xlarge, which has no spot price: $6.88/GPU-hour on-demand beats the
    # p5.48xlarge spot high of 25.80/8 = $3.225/GPU-hour as the worst case.
    assert line.floor == pytest.approx(55.04 * H)
    assert line.ceiling == pytest.approx((55.04 + 3 * 8 * 6.88) * H)
    assert line.ceiling_fallback == pytest.approx(4 * 8 * 6.88 * H)


def test_dev_estimate_by_hand(configs: dict[str, StackConfig]) -> None:
    est = estimate(configs["dev"], "dev")
    by_name = {x.name: x for x in est.lines}
    assert by_name["light-l40s"].floor == 0
    assert by_name["light-l40s"].ceiling == pytest.approx(1 * 1.25 * H)  # g6e.2xlarge spot high
    assert by_name["core-aws system"].floor == pytest.approx(0.2016 * H)
    assert by_name["AWS NAT gateways"].floor == pytest.approx(services().usd("aws-nat-gateway") * H)
    assert est.floor == pytest.approx(sum(x.floor for x in est.lines))
    assert est.ceiling >= est.floor


def test_model_and_tenant_shares(configs: dict[str, StackConfig]) -> None:
    est = estimate(configs["prod"], "prod")
    chat = next(s for s in est.shares if s.name == "chat-llm")
    # 2 replicas, each one 3g.40gb slice of 16 on a p5.48xlarge held on-demand.
    assert chat.floor == pytest.approx(2 * 55.04 / 16 * H)
    assert chat.tenant == "support-assistant"
    tenants = est.by_tenant()
    assert {"support-assistant", "research", "shared", "(shared platform)"} <= set(tenants)
    assert sum(f for f, _c in tenants.values()) == pytest.approx(est.floor)


def test_serverless_expected_traffic_is_priced(configs: dict[str, StackConfig]) -> None:
    cfg = configs["prod"]
    ep = cfg.serverless["guardrail"]
    traffic = ep.expected_traffic.model_copy(
        update={"requests_per_month": 10_000_000, "mean_duration_ms": 100, "mean_payload_kb": 4}
    )
    cfg2 = cfg.model_copy(
        update={"serverless": {"guardrail": ep.model_copy(update={"expected_traffic": traffic})}}
    )
    before = next(x for x in estimate(cfg, "prod").lines if x.name == "guardrail")
    after = next(x for x in estimate(cfg2, "prod").lines if x.name == "guardrail")
    assert ep.sagemaker is not None
    gb = ep.sagemaker.memory_mb / 1024
    compute = 10_000_000 * 0.1 * gb * 0.00002
    data = 10_000_000 * 4 / (1024 * 1024) * 0.016
    assert after.floor - before.floor == pytest.approx(compute + data)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "edge"])
def test_every_stack_ceiling_fits_its_budget(configs: dict[str, StackConfig], stack: str) -> None:
    cfg = configs[stack]
    assert cfg.budget is not None
    assert estimate(cfg, stack).ceiling <= cfg.budget.monthly_usd


def test_aws_budget_notifications_are_derived_from_thresholds_and_ceiling() -> None:
    args = AwsBudgetArgs(
        stack="prod",
        limit_usd=1000,
        actual_thresholds_percent=[80, 50, 100],
        ceiling_usd=600,
        emails=["a@example.com"],
    )
    notes = notifications(args, "arn:aws:sns:us-east-1:1:t")
    kinds = [(n.notification_type, n.threshold, n.threshold_type) for n in notes]  # type: ignore[attr-defined]
    assert kinds == [
        ("ACTUAL", 50.0, "PERCENTAGE"),
        ("ACTUAL", 80.0, "PERCENTAGE"),
        ("ACTUAL", 100.0, "PERCENTAGE"),
        ("FORECASTED", 100.0, "PERCENTAGE"),
        ("FORECASTED", 600.0, "ABSOLUTE_VALUE"),
    ]


def test_gcp_budget_threshold_rules() -> None:
    args = GcpBudgetArgs(
        project="p",
        billing_account="01A2B3-C4D5E6-F7A8B9",
        limit_usd=1000,
        actual_thresholds_percent=[50],
        ceiling_usd=1200,
        emails=[],
    )
    rules = [(r.threshold_percent, r.spend_basis) for r in threshold_rules(args)]  # type: ignore[attr-defined]
    assert rules == [(0.5, "CURRENT_SPEND"), (1.0, "FORECASTED_SPEND")]  # ceiling above limit: none


def test_plans_carry_budgets_split_by_cloud(
    plans: dict[str, Plan], configs: dict[str, StackConfig]
) -> None:
    plan = plans["prod"]
    aws_budget = plan.by_type("aws:budgets/budget:Budget")[0]["inputs"]
    gcp_budget = plan.by_type("gcp:billing/budget:Budget")[0]["inputs"]
    limit = configs["prod"].budget.monthly_usd  # type: ignore[union-attr]
    total = float(aws_budget["limitAmount"]) + float(
        gcp_budget["amount"]["specifiedAmount"]["units"]
    )
    assert total == pytest.approx(limit, abs=1)
    types = {n["notificationType"] for n in aws_budget["notifications"]}
    assert types == {"ACTUAL", "FORECASTED"}
    assert aws_budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:stack$prod"]}]
    assert gcp_budget["budgetFilter"]["projects"] == ["projects/123456789012"]
    assert plans["dev"].by_type("gcp:billing/budget:Budget") == []


def test_make_cost_prints_a_delta_against_a_base(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", stacks)
    doc = yaml.safe_load((stacks / "Pulumi.dev.yaml").read_text())
    doc["config"]["llm-inference:gpuPools"]["light-l40s"]["nodes"]["max"] = 2
    (stacks / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    result = subprocess.run(
        [sys.executable, "-m", "tools.cost", "--base", "HEAD", "--stack-dir", str(stacks)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "against HEAD" in result.stdout
    assert "~ pool light-l40s: ceiling $912 -> $1,825" in result.stdout


def test_make_cost_refuses_a_bad_ref() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.cost", "--base", "no-such-ref"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "BASE='no-such-ref' is not a commit" in result.stderr
    assert "Traceback" not in result.stderr


def test_delta_lines_mark_new_and_changed_stacks() -> None:
    base = {
        "dev": {
            "floor": 100.0,
            "ceiling": 200.0,
            "ceilingFallback": 200.0,
            "lines": {"pool a": [0, 200]},
        }
    }
    head = {
        "dev": {
            "floor": 100.0,
            "ceiling": 300.0,
            "ceilingFallback": 300.0,
            "lines": {"pool a": [0, 300]},
        },
        "qa": {"floor": 1.0, "ceiling": 2.0, "ceilingFallback": 2.0, "lines": {}},
    }
    text = "\n".join(delta_lines(base, head, "main", "test"))
    assert "+$100 (+50%)" in text
    assert "~ pool a: ceiling $200 -> $300" in text
    assert "qa" in text
    assert "new" in text
    assert json.loads(json.dumps(summary(REPO / "stacks")))["dev"]["floor"] > 0


# ---------------------------------------------------------------------------
# $/1M tokens


def test_usd_per_million_tokens_from_given_throughput(configs: dict[str, StackConfig]) -> None:
    pool = configs["prod"].gpu_pools["heavy-h100"]
    measured = Measured(
        model="chat_llm", hardware="H100-80GB 3g.40gb", tokens_per_second=1000.0, source="given"
    )
    cost = token_cost(measured, "heavy-h100", pool, REFERENCE_CHAT)
    # 16 MIG replicas per p5.48xlarge, 60 % utilization: 1000 x 16 x 3600 x 0.6 tokens/h.
    tokens_per_hour = 1000 * 16 * 3600 * 0.6
    assert cost.replicas_per_node == 16
    assert cost.usd_per_million_on_demand == pytest.approx(55.04 / tokens_per_hour * 1e6)
    assert cost.usd_per_million_spot == pytest.approx(25.80 / tokens_per_hour * 1e6)
    blended = 0.7 * 55.04 + 0.3 * 25.80
    assert cost.usd_per_million_blended == pytest.approx(blended / tokens_per_hour * 1e6)
    assert "utilization 60%" in "\n".join(cost.lines())


def test_read_measurements_skips_files_without_the_keys(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps({"model": "m", "hardware": "L4-24GB", "tokens_per_second": 250})
    )
    (tmp_path / "b.json").write_text(json.dumps({"something": "else"}))
    (tmp_path / "c.json").write_text("not json")
    found = read_measurements(tmp_path)
    assert found == [Measured("m", "L4-24GB", 250.0, "a.json")]


def test_llm_start_up_is_priced_per_scale_out(configs: dict[str, StackConfig]) -> None:
    """Each LLM deployment's start (weights copy, load, warm-up) costs its share of a node."""
    from blueprint.cost.estimate import (  # noqa: PLC0415
        ENGINE_WARMUP_S,
        WEIGHTS_COPY_GBPS,
        WEIGHTS_LOAD_GBPS,
        estimate,
    )
    from blueprint.modelrepo.llm import load_llm  # noqa: PLC0415

    est = estimate(configs["prod"], "prod")
    starts = {s.name: s for s in est.startups}
    assert set(starts) == {"chat-llm", "chat-llm-long", "chat-llm-gcp"}
    size = load_llm("chat_llm").weights("h200").size_gb
    want = size / WEIGHTS_COPY_GBPS + size / WEIGHTS_LOAD_GBPS + ENGINE_WARMUP_S
    assert starts["chat-llm-long"].seconds == pytest.approx(want)
    assert all(s.usd > 0 for s in starts.values())
    assert not [s for s in est.startups if s.name == "embed-guard"]  # Triton: no weights copy
