"""Prod's stateful resources are protected from deletion.

A cluster, a bucket or a KMS key in prod holds what cannot be recreated by running the
program again: the cluster's state, the model repository and its versions, the key
that decrypts both. ``protect`` (a Pulumi resource option) makes ``pulumi destroy`` and
any replacing change stop before deleting one; GKE also has deletion protection of
its own. The blueprint sets both from one switch (``llm-inference:deletionProtection``,
default true in prod); this policy is what keeps a fork from losing it.

Pulumi's engine hands a resource policy the resource's options with its inputs
(``ResourceValidationArgs.opts.protect``); the offline engine (:mod:`policies.engine`)
builds the same options from the plan, where the recorder writes ``"protect": true``.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policies._lib import Level, NoConfig, get, message, resource_policy, truthy
from policies.cost import GCS_BUCKET, S3_BUCKETS
from policies.hardening import AWS_KMS_KEY, GCP_CRYPTO_KEY
from policies.security import EKS_CLUSTER, GKE_CLUSTER

STATEFUL = frozenset(
    {EKS_CLUSTER, GKE_CLUSTER, GCS_BUCKET, AWS_KMS_KEY, GCP_CRYPTO_KEY, *S3_BUCKETS}
)
"""Resource types whose deletion loses data: clusters, buckets, customer-managed keys."""


def _stateful_protected(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    if args.resource_type not in STATEFUL:
        return
    if not args.opts.protect:
        report(
            message(
                args,
                "protect (resource option)",
                False,
                "a prod cluster, bucket or key can be deleted by `pulumi destroy` or by a "
                "change that replaces it, and what it holds is lost",
                "set llm-inference:deletionProtection: true (the default in prod), or pass "
                "ResourceOptions(protect=True)",
            ),
            None,
        )
    if args.resource_type == GKE_CLUSTER:
        value = get(args.props, "deletionProtection")
        if truthy(value) is False:
            report(
                message(
                    args,
                    "deletionProtection",
                    value,
                    "GKE deletes the cluster on request, from outside Pulumi too",
                    "set deletionProtection: true (llm-inference:deletionProtection)",
                ),
                None,
            )


PROD_STATEFUL_PROTECTED = resource_policy(
    name="prod-stateful-protected",
    domain="reliability",
    description="Clusters, buckets and KMS keys carry Pulumi's protect option, and GKE "
    "clusters their deletion protection (mandatory in prod).",
    level=Level.ADVISORY,
    fix="Set llm-inference:deletionProtection: true, which protects clusters, buckets and keys.",
    check=_stateful_protected,
    config=NoConfig,
)

POLICIES = [PROD_STATEFUL_PROTECTED]
