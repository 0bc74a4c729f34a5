"""Every policy of the pack, in one list: the pack, the offline engine, the README and
the tests all read this."""

from __future__ import annotations

from pulumi_policy import Policy

from policies import cost, hardening, protection, reliability, secret_literals, security

POLICIES: list[Policy] = [
    *cost.POLICIES,
    *reliability.POLICIES,
    *protection.POLICIES,
    *security.POLICIES,
    *secret_literals.POLICIES,
    *hardening.POLICIES,
]
BY_NAME: dict[str, Policy] = {p.name: p for p in POLICIES}

PACK_NAME = "llm-inference-guardrails"
"""The pack's name as Pulumi Cloud and ``pulumi preview`` show it."""


def domain(policy: Policy) -> str:
    """cost, reliability or security: the policy's first tag."""
    return (policy.tags or ["?"])[0]
