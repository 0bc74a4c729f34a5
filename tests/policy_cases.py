"""Synthetic resources for the policy tests: for every policy a compliant case, a
violating case and a missing-property case, built with the real Pulumi type tokens
and camelCase input names of pulumi-aws 7, pulumi-gcp 10 and pulumi-kubernetes 4.

Each case is evaluated through :mod:`policies.engine` exactly as a plan would be
(protobuf round trip, unknown-checking proxies, provider props, property
dependencies), so what passes here passes in ``make preview``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

STACK = "urn:pulumi:test::llm-inference::pulumi:pulumi:Stack::llm-inference-test"
AWS_PROVIDER = "urn:pulumi:test::llm-inference::pulumi:providers:aws::aws"
GCP_PROVIDER = "urn:pulumi:test::llm-inference::pulumi:providers:gcp::gcp"
K8S_PROVIDER = "urn:pulumi:test::llm-inference::pulumi:providers:kubernetes::core-aws"

BASE_TAGS = {"environment": "test", "cost-center": "ml", "team": "ml-platform", "stack": "test"}


def urn(rtype: str, name: str) -> str:
    return f"urn:pulumi:test::llm-inference::{rtype}::{name}"


def rec(
    rtype: str,
    name: str,
    inputs: dict[str, Any],
    *,
    provider: str | None = None,
    deps: dict[str, list[str]] | None = None,
    custom: bool = True,
) -> dict[str, Any]:
    """One resource as the plan records it."""
    if provider is None:
        provider = (
            AWS_PROVIDER
            if rtype.startswith("aws:")
            else GCP_PROVIDER
            if rtype.startswith("gcp:")
            else K8S_PROVIDER
            if rtype.startswith("kubernetes:")
            else None
        )
    return {
        "urn": urn(rtype, name),
        "type": rtype,
        "name": name,
        "parent": STACK,
        "custom": custom,
        "inputs": inputs,
        "provider": provider,
        "dependencies": sorted({d for v in (deps or {}).values() for d in v}),
        "propertyDependencies": deps or {},
    }


def providers(tags: dict[str, str] | None = None) -> list[dict[str, Any]]:
    tags = BASE_TAGS if tags is None else tags
    return [
        {
            **rec("pulumi:providers:aws", "aws", {"defaultTags": json.dumps({"tags": tags})}),
            "urn": AWS_PROVIDER,
        },
        {
            **rec("pulumi:providers:gcp", "gcp", {"defaultLabels": json.dumps(tags)}),
            "urn": GCP_PROVIDER,
        },
        {**rec("pulumi:providers:kubernetes", "core-aws", {}), "urn": K8S_PROVIDER},
    ]


@dataclass
class Case:
    policy: str
    kind: str  # ok | bad | missing
    resources: list[dict[str, Any]]
    expect: list[str] = field(default_factory=list)
    """Substrings every one of which some violation message contains (empty: none expected)."""
    config: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.policy}-{self.kind}{'-' + self.note if self.note else ''}"


# ---------------------------------------------------------------------------
# Building blocks


def triton_container(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": "triton",
        "image": "nvcr.io/nvidia/tritonserver:24.10-py3",
        "args": [
            "tritonserver",
            "--model-repository=s3://bucket/models",
            "--model-control-mode=explicit",
            "--http-restricted-api=model-repository,model-config:x-admin=secret",
            "--grpc-restricted-protocol=model-repository,model-config:x-admin=secret",
        ],
        "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8000}},
        "livenessProbe": {"httpGet": {"path": "/v2/health/live", "port": 8000}},
        "resources": {
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"memory": "16Gi", "nvidia.com/gpu": 1},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


POD_LABELS = {"app": "chat", "llm-inference/model": "chat-llm", "llm-inference/tenant": "acme"}


def deployment(
    name: str = "chat",
    *,
    container: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    replicas: int | None = 2,
    namespace: str = "serving",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "chat"}},
        "template": {
            "metadata": {"labels": POD_LABELS if labels is None else labels},
            "spec": {"containers": [container or triton_container()]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return rec(
        "kubernetes:apps/v1:Deployment",
        name,
        {"metadata": {"name": name, "namespace": namespace}, "spec": spec},
    )


def node_group(name: str = "gpu", **over: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "clusterName": "core",
        "instanceTypes": ["g6.xlarge", "g6.2xlarge"],
        "capacityType": "SPOT",
        "scalingConfig": {"minSize": 0, "maxSize": 2, "desiredSize": 0},
        "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        "launchTemplate": {"id": "lt-1", "version": "1"},
        "subnetIds": ["subnet-a", "subnet-b"],
        "tags": {"Name": name},
    }
    inputs.update(over)
    return rec(
        "aws:eks/nodeGroup:NodeGroup", name, {k: v for k, v in inputs.items() if v is not None}
    )


def node_pool(name: str = "gpu", *, limits: Any = "default", **spec_over: Any) -> dict[str, Any]:
    """A Karpenter NodePool for GPU nodes."""
    template_spec: dict[str, Any] = {
        "requirements": [
            {
                "key": "node.kubernetes.io/instance-type",
                "operator": "In",
                "values": ["g6.xlarge", "g6.2xlarge"],
            },
            {
                "key": "karpenter.sh/capacity-type",
                "operator": "In",
                "values": ["spot", "on-demand"],
            },
        ],
        "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
    }
    template_spec.update(spec_over)
    spec: dict[str, Any] = {
        "template": {"spec": {k: v for k, v in template_spec.items() if v is not None}},
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "15m"},
    }
    if limits == "default":
        spec["limits"] = {"nvidia.com/gpu": "4", "cpu": "64"}
    elif limits is not None:
        spec["limits"] = limits
    return rec(
        "kubernetes:karpenter.sh/v1:NodePool",
        name,
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {"name": name},
            "spec": spec,
        },
    )


def gke_pool(name: str = "gpu", **node_config: Any) -> dict[str, Any]:
    nc: dict[str, Any] = {
        "machineType": "g2-standard-4",
        "spot": True,
        "guestAccelerators": [{"type": "nvidia-l4", "count": 1}],
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    }
    nc.update(node_config)
    return rec(
        "gcp:container/nodePool:NodePool",
        name,
        {
            "cluster": "core",
            "nodeLocations": ["us-central1-a", "us-central1-b"],
            "autoscaling": {"minNodeCount": 0, "maxNodeCount": 2},
            "nodeConfig": {k: v for k, v in nc.items() if v is not None},
        },
    )


def bucket_set(
    name: str = "models",
    *,
    pab: dict[str, Any] | str | None = "default",
    sse: str | None = "aws:kms",
    tls: bool = True,
    lifecycle: bool = True,
) -> list[dict[str, Any]]:
    bucket = rec("aws:s3/bucket:Bucket", name, {"bucket": name, "tags": {"Name": name}})
    dep = {"bucket": [bucket["urn"]]}
    out = [bucket]
    if pab == "default":
        pab = dict.fromkeys(
            ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
            True,
        )
    if pab is not None:
        out.append(
            rec(
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                f"{name}-pab",
                {"bucket": f"{name}-id", **pab},
                deps=dep,
            )
        )
    if sse is not None:
        out.append(
            rec(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                f"{name}-sse",
                {
                    "bucket": f"{name}-id",
                    "rules": [
                        {
                            "applyServerSideEncryptionByDefault": {
                                "sseAlgorithm": sse,
                                "kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
                            },
                            "bucketKeyEnabled": True,
                        }
                    ],
                },
                deps=dep,
            )
        )
    if tls:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
        out.append(
            rec(
                "aws:s3/bucketPolicy:BucketPolicy",
                f"{name}-policy",
                {"bucket": f"{name}-id", "policy": json.dumps(policy)},
                deps=dep,
            )
        )
    if lifecycle:
        out.append(
            rec(
                "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                f"{name}-lifecycle",
                {
                    "bucket": f"{name}-id",
                    "rules": [
                        {
                            "id": "expire-old-versions",
                            "status": "Enabled",
                            "noncurrentVersionExpiration": {"noncurrentDays": 30},
                            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                        }
                    ],
                },
                deps=dep,
            )
        )
    return out


def gcs_bucket(**over: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "location": "US-CENTRAL1",
        "publicAccessPrevention": "enforced",
        "uniformBucketLevelAccess": True,
        "encryption": {"defaultKmsKeyName": "projects/p/locations/us/keyRings/r/cryptoKeys/k"},
        "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"numNewerVersions": 3}}],
    }
    inputs.update(over)
    return rec(
        "gcp:storage/bucket:Bucket", "gcs", {k: v for k, v in inputs.items() if v is not None}
    )


def aws_budget(
    notification_types: tuple[str, ...] = ("ACTUAL", "FORECASTED"), limit: str = "10000.00"
) -> dict[str, Any]:
    return rec(
        "aws:budgets/budget:Budget",
        "budget",
        {
            "budgetType": "COST",
            "timeUnit": "MONTHLY",
            "limitAmount": limit,
            "limitUnit": "USD",
            "notifications": [
                {
                    "comparisonOperator": "GREATER_THAN",
                    "notificationType": t,
                    "threshold": 100,
                    "thresholdType": "PERCENTAGE",
                    "subscriberEmailAddresses": ["finops@example.com"],
                }
                for t in notification_types
            ],
            "tags": {"Name": "budget"},
        },
    )


def gcp_budget(
    bases: tuple[str, ...] = ("CURRENT_SPEND", "FORECASTED_SPEND"), topic: bool = True
) -> dict[str, Any]:
    rule: dict[str, Any] = {"schemaVersion": "1.0"}
    if topic:
        rule["pubsubTopic"] = "projects/p/topics/budget"
    return rec(
        "gcp:billing/budget:Budget",
        "gbudget",
        {
            "billingAccount": "01A2B3-C4D5E6-F7A8B9",
            "amount": {"specifiedAmount": {"currencyCode": "USD", "units": "10000"}},
            "thresholdRules": [{"thresholdPercent": 1.0, "spendBasis": b} for b in bases],
            "allUpdatesRule": rule,
        },
    )


def prom_rule(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return rec(
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "alerts",
        {
            "metadata": {"name": "alerts", "namespace": "serving"},
            "spec": {"groups": [{"name": "triton", "rules": rules}]},
        },
    )


RUNBOOK = "https://github.com/example-org/llm-inference/blob/main/runbooks/TritonDown.md"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def pdb(**spec: Any) -> dict[str, Any]:
    return rec(
        PDB,
        "chat",
        {
            "metadata": {"name": "chat", "namespace": "serving"},
            "spec": {"selector": {"matchLabels": {"app": "chat"}}, **spec},
        },
    )


def pod_monitor(labels: dict[str, str] | None = None) -> dict[str, Any]:
    return rec(
        "kubernetes:monitoring.coreos.com/v1:PodMonitor",
        "triton",
        {
            "metadata": {"name": "triton", "namespace": "serving"},
            "spec": {
                "selector": {"matchLabels": labels or {"app": "chat"}},
                "podMetricsEndpoints": [{"port": "metrics"}],
            },
        },
    )


def subnet(name: str, zone: str) -> dict[str, Any]:
    return rec(
        "aws:ec2/subnet:Subnet",
        name,
        {"availabilityZone": zone, "vpcId": "vpc", "tags": {"Name": name}},
    )


def eks_cluster(subnets: list[dict[str, Any]], **vpc: Any) -> dict[str, Any]:
    vpc_config = {
        "subnetIds": [f"{s['name']}-id" for s in subnets],
        "endpointPublicAccess": False,
        "endpointPrivateAccess": True,
        **vpc,
    }
    return rec(
        "aws:eks/cluster:Cluster",
        "core",
        {
            "roleArn": "arn:aws:iam::123456789012:role/eks",
            "vpcConfig": {k: v for k, v in vpc_config.items() if v is not None},
            "encryptionConfig": {
                "resources": ["secrets"],
                "provider": {"keyArn": "arn:aws:kms:us-east-1:123456789012:key/k"},
            },
            "tags": {"Name": "core"},
        },
        deps={"vpcConfig": [s["urn"] for s in subnets]},
    )


def gke_cluster(**over: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "location": "us-central1",
        "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
        "workloadIdentityConfig": {"workloadPool": "acme.svc.id.goog"},
        "databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"},
    }
    inputs.update(over)
    return rec(
        "gcp:container/cluster:Cluster", "gke", {k: v for k, v in inputs.items() if v is not None}
    )


def lt(**over: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
        "blockDeviceMappings": [
            {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 200}}
        ],
        "tags": {"Name": "lt"},
    }
    inputs.update(over)
    return rec(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "lt",
        {k: v for k, v in inputs.items() if v is not None},
    )


def iam_policy(doc: dict[str, Any]) -> dict[str, Any]:
    return rec("aws:iam/policy:Policy", "p", {"policy": json.dumps(doc), "tags": {"Name": "p"}})


def sm_config(**serverless: Any) -> dict[str, Any]:
    sc = {"maxConcurrency": 10, "memorySizeInMb": 2048, "provisionedConcurrency": 1}
    sc.update(serverless)
    return rec(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "guardrail",
        {
            "productionVariants": [
                {
                    "variantName": "main",
                    "modelName": "m",
                    "serverlessConfig": {k: v for k, v in sc.items() if v is not None},
                }
            ],
            "tags": {"Name": "guardrail", "model": "prompt_guard", "tenant": "shared"},
        },
    )


def ns(name: str, level: str | None) -> dict[str, Any]:
    labels = {} if level is None else {"pod-security.kubernetes.io/enforce": level}
    return rec("kubernetes:core/v1:Namespace", name, {"metadata": {"name": name, "labels": labels}})


def helm(version: str | None) -> dict[str, Any]:
    inputs: dict[str, Any] = {"chart": "gpu-operator", "namespace": "gpu-operator"}
    if version is not None:
        inputs["version"] = version
    return rec("kubernetes:helm.sh/v3:Release", "gpu-operator", inputs)


# Planted credentials: the documented example values of each vendor where there is one,
# assembled from parts so that secret scanners do not take this file for a leak.
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
SLACK_HOOK = "https://hooks.slack.com/" + "services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
PAGERDUTY_CONFIG = (
    "receivers:\n- pagerduty_configs:\n  - routing_" + "key: 0123456789abcdef0123456789abcdef\n"
)
PEM_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
GITHUB_TOKEN = "gh" + "p_" + "0" * 36


def config_map(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return rec("kubernetes:core/v1:ConfigMap", name, {"metadata": {"name": name}, "data": data})


def release_values(values: dict[str, Any]) -> dict[str, Any]:
    return rec(
        "kubernetes:helm.sh/v3:Release",
        "kps",
        {"chart": "kube-prometheus-stack", "version": "75.15.1", "values": values},
    )


def secret_literal_cases() -> list[Case]:
    name = "no-secret-literals"
    masked = rec("kubernetes:core/v1:Secret", "am", {"stringData": "[secret]"})
    references = release_values(
        {
            "grafana": {
                "admin": {
                    "existingSecret": "kps-grafana-admin",
                    "userKey": "admin-user",
                    "passwordKey": "admin-password",
                }
            },
            "alertmanager": {"alertmanagerSpec": {"configSecret": "kps-alertmanager-config"}},
        }
    )
    from_secret = deployment(
        container=triton_container(
            env=[
                {
                    "name": "HF_TOKEN",
                    "valueFrom": {"secretKeyRef": {"name": "hub", "key": "token"}},
                }
            ]
        )
    )
    exec_kubeconfig = rec(
        "pulumi:providers:kubernetes",
        "k8s",
        {
            "kubeconfig": json.dumps(
                {"users": [{"name": "u", "user": {"exec": {"command": "aws"}}}]}
            )
        },
    )
    bad = {
        "aws-key-id": (config_map("env", {"AWS_KEY": AWS_KEY_ID}), "an AWS access key id"),
        "slack": (
            release_values({"alertmanager": {"config": {"global": {"slack_api_url": SLACK_HOOK}}}}),
            "a Slack webhook URL",
        ),
        "pagerduty": (config_map("am", {"alertmanager.yaml": PAGERDUTY_CONFIG}), "a PagerDuty"),
        "pem": (
            rec("kubernetes:core/v1:Secret", "tls", {"stringData": {"tls.key": PEM_KEY}}),
            "a PEM private key",
        ),
        "github": (
            deployment(container=triton_container(env=[{"name": "GH", "value": GITHUB_TOKEN}])),
            "a GitHub token",
        ),
        "key-name": (
            release_values({"grafana": {"adminPassword": "prom-operator"}}),
            "'adminPassword' names secret material",
        ),
        "webhook-key": (
            config_map("hooks", {"pagingWebhookUrl": "https://example.com/page"}),
            "data.pagingWebhookUrl",
        ),
        "kubeconfig-token": (
            rec(
                "pulumi:providers:kubernetes",
                "k8s",
                {"kubeconfig": json.dumps({"users": [{"name": "u", "user": {"token": "abc"}}]})},
            ),
            "users[].user.token",
        ),
    }
    return [
        Case(
            name,
            "ok",
            [*providers(), masked, references, from_secret, exec_kubeconfig, deployment()],
        ),
        *(
            Case(name, "bad", [*providers(), resource], [want, '= "<redacted>"', "Fix:"], note=n)
            for n, (resource, want) in bad.items()
        ),
        Case(
            name,
            "missing",
            [*providers(), rec("kubernetes:core/v1:Secret", "empty", {}), config_map("e", {})],
        ),
    ]


def with_args(*extra: str, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    base = [a for a in triton_container()["args"] if not any(a.startswith(d) for d in drop)]
    return triton_container(args=[*base, *extra])


def cases() -> list[Case]:
    sub_a, sub_b = subnet("private-a", "us-east-1a"), subnet("private-b", "us-east-1b")
    sub_a2 = subnet("private-a2", "us-east-1a")
    stack_ok = [*providers(), aws_budget(), gcp_budget(), node_group(), gke_pool()]
    return [
        # ---------------- cost
        Case("budget-per-stack", "ok", [*providers(), aws_budget(), gcp_budget(), sub_a]),
        Case(
            "budget-per-stack",
            "bad",
            [*providers(), aws_budget(("ACTUAL",)), sub_a],
            ["FORECASTED", "Fix:"],
        ),
        Case(
            "budget-per-stack",
            "bad",
            [*providers(), gcp_budget(topic=False), gke_pool()],
            ["allUpdatesRule"],
            note="gcp",
        ),
        Case(
            "budget-per-stack",
            "missing",
            [*providers(), sub_a],
            ["aws:budgets/budget:Budget is not set"],
        ),
        Case("budget-covers-ceiling", "ok", stack_ok),
        Case(
            "budget-covers-ceiling",
            "bad",
            [
                *providers(),
                aws_budget(limit="100.00"),
                node_group(scalingConfig={"minSize": 0, "maxSize": 10}),
            ],
            ["limitAmount = 100.0", "at its ceiling", "Fix: raise budget.monthlyUsd"],
        ),
        Case(
            "budget-covers-ceiling",
            "missing",
            [*providers(), node_group()],
            [],
            note="no-budget-nothing-to-compare",
        ),
        Case("cost-allocation-tags", "ok", [*providers(), sub_a]),
        Case(
            "cost-allocation-tags",
            "bad",
            [*providers({"environment": "test"}), sub_a],
            ["cost-center, team"],
        ),
        Case(
            "cost-allocation-tags",
            "missing",
            [
                *providers({}),
                rec("aws:s3/bucket:Bucket", "b", {"bucket": "b"}),
                rec("aws:ec2/routeTableAssociation:RouteTableAssociation", "rta", {}),
            ],
            ["b (aws:s3/bucket:Bucket): tags is not set"],
        ),
        Case("model-tenant-labels", "ok", [*providers(), deployment(), sm_config()]),
        Case(
            "model-tenant-labels",
            "bad",
            [*providers(), deployment(labels={"app": "chat", "llm-inference/model": "chat"})],
            ["no tenant label"],
        ),
        Case(
            "model-tenant-labels",
            "missing",
            [*providers(), deployment(labels={})],
            ["no model label", "no tenant label"],
        ),
        Case(
            "gpu-instance-allowlist",
            "ok",
            [*providers(), node_group(), gke_pool()],
            config={"allowedInstanceTypes": ["g6.xlarge", "g6.2xlarge", "g2-standard-4"]},
        ),
        Case(
            "gpu-instance-allowlist",
            "bad",
            [*providers(), node_group(instanceTypes=["p5.48xlarge", "g6.xlarge"])],
            ["p5.48xlarge", "is a GPU type this environment does not allow"],
            config={"allowedInstanceTypes": ["g6.xlarge"]},
        ),
        Case(
            "gpu-instance-allowlist",
            "missing",
            [
                *providers(),
                node_pool(
                    requirements=[
                        {
                            "key": "karpenter.k8s.aws/instance-category",
                            "operator": "In",
                            "values": ["g"],
                        }
                    ]
                ),
            ],
            ["instance-type] is not set"],
        ),
        Case("gpu-pool-ceiling", "ok", [*providers(), node_group(), node_pool(), gke_pool()]),
        Case(
            "gpu-pool-ceiling",
            "bad",
            [*providers(), node_group(scalingConfig={"minSize": 0, "maxSize": 40})],
            ["scalingConfig.maxSize = 40.0", "above this environment's 16"],
        ),
        Case(
            "gpu-pool-ceiling",
            "bad",
            [*providers(), gke_pool()],
            ["4 nodes (2 per zone x 2 zones)"],
            config={"maxNodes": 3},
            note="gke-per-zone",
        ),
        Case(
            "gpu-pool-ceiling",
            "missing",
            [*providers(), node_pool(limits=None)],
            ["spec.limits is not set", "without bound"],
        ),
        Case("gpu-pool-floor", "ok", [*providers(), node_group()], config={"maxAlwaysOnNodes": 0}),
        Case(
            "gpu-pool-floor",
            "bad",
            [*providers(), node_group(scalingConfig={"minSize": 2, "maxSize": 4})],
            ["keeps 2 GPU nodes up"],
            config={"maxAlwaysOnNodes": 0},
        ),
        Case(
            "gpu-pool-floor",
            "missing",
            [*providers(), node_group(scalingConfig={"maxSize": 4})],
            [],
            config={"maxAlwaysOnNodes": 0},
            note="no-min-means-zero",
        ),
        Case(
            "non-prod-gpu-spot",
            "ok",
            [
                *providers(),
                node_group(),
                node_group("fallback", capacityType="ON_DEMAND"),
                node_pool(),
            ],
        ),
        Case(
            "non-prod-gpu-spot",
            "bad",
            [
                *providers(),
                node_group(capacityType="ON_DEMAND", scalingConfig={"minSize": 1, "maxSize": 2}),
            ],
            ['capacityType = "ON_DEMAND"'],
        ),
        Case(
            "non-prod-gpu-spot",
            "missing",
            [
                *providers(),
                node_pool(
                    requirements=[
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": ["g6.xlarge"],
                        }
                    ]
                ),
            ],
            ["cannot use spot capacity"],
        ),
        Case("serverless-caps", "ok", [*providers(), sm_config()], config={"maxConcurrency": 20}),
        Case(
            "serverless-caps",
            "bad",
            [*providers(), sm_config(maxConcurrency=200, memorySizeInMb=6144)],
            ["maxConcurrency = 200.0", "memorySizeInMb = 6144.0"],
            config={"maxConcurrency": 20, "maxMemoryMb": 4096},
        ),
        Case(
            "serverless-caps",
            "missing",
            [*providers(), sm_config(maxConcurrency=None)],
            ["maxConcurrency is not set"],
        ),
        Case(
            "log-retention",
            "ok",
            [
                *providers(),
                rec("aws:cloudwatch/logGroup:LogGroup", "lg", {"retentionInDays": 30, "tags": {}}),
            ],
        ),
        Case(
            "log-retention",
            "bad",
            [
                *providers(),
                rec(
                    "aws:cloudwatch/logGroup:LogGroup", "lg", {"retentionInDays": 3653, "tags": {}}
                ),
            ],
            ["retentionInDays = 3653.0"],
        ),
        Case(
            "log-retention",
            "missing",
            [*providers(), rec("aws:cloudwatch/logGroup:LogGroup", "lg", {"tags": {}})],
            ["retentionInDays is not set", "kept forever"],
        ),
        Case("bucket-lifecycle", "ok", [*providers(), *bucket_set(), gcs_bucket()]),
        Case(
            "bucket-lifecycle",
            "bad",
            [*providers(), gcs_bucket(lifecycleRules=[])],
            ["lifecycleRules is not set"],
        ),
        Case(
            "bucket-lifecycle",
            "missing",
            [*providers(), *bucket_set(lifecycle=False)],
            ["BucketLifecycleConfiguration is not set"],
        ),
        # ---------------- reliability
        Case("workload-probes", "ok", [*providers(), deployment()]),
        Case(
            "workload-probes",
            "bad",
            [*providers(), deployment(container=triton_container(livenessProbe=None))],
            ["livenessProbe (container triton) is not set"],
        ),
        Case(
            "workload-probes",
            "missing",
            [*providers(), deployment(container={"name": "x", "image": "busybox:1.36"})],
            ["readinessProbe", "livenessProbe"],
        ),
        Case("resource-requests-limits", "ok", [*providers(), deployment()]),
        Case(
            "resource-requests-limits",
            "bad",
            [
                *providers(),
                deployment(
                    container=triton_container(
                        resources={
                            "requests": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1},
                            "limits": {"memory": "1Gi"},
                        }
                    )
                ),
            ],
            ["limits.nvidia.com/gpu is not set"],
        ),
        Case(
            "resource-requests-limits",
            "missing",
            [*providers(), deployment(container=triton_container(resources=None))],
            ["requests.cpu is not set", "limits.memory is not set"],
        ),
        Case("pdb-for-serving", "ok", [*providers(), deployment(), pdb(maxUnavailable=1)]),
        Case(
            "pdb-for-serving",
            "bad",
            [*providers(), deployment(), pdb(maxUnavailable=0)],
            ["allows no disruption"],
        ),
        Case(
            "pdb-for-serving",
            "missing",
            [*providers(), deployment()],
            ["PodDisruptionBudget is not set"],
        ),
        Case(
            "min-replicas",
            "ok",
            [*providers(), deployment(replicas=2), deployment("research", replicas=0)],
        ),
        Case(
            "min-replicas",
            "bad",
            [
                *providers(),
                deployment(replicas=3),
                rec(
                    HPA,
                    "chat",
                    {
                        "metadata": {"name": "chat", "namespace": "serving"},
                        "spec": {
                            "scaleTargetRef": {
                                "kind": "Deployment",
                                "name": "chat",
                                "apiVersion": "apps/v1",
                            },
                            "minReplicas": 1,
                            "maxReplicas": 4,
                        },
                    },
                ),
            ],
            ["spec.minReplicas = 1.0"],
        ),
        Case(
            "min-replicas",
            "missing",
            [*providers(), deployment(replicas=None)],
            ["spec.replicas = 1.0"],
        ),
        Case("gpu-pool-taints", "ok", [*providers(), node_group(), node_pool(), gke_pool()]),
        Case(
            "gpu-pool-taints",
            "bad",
            [
                *providers(),
                node_group(taints=[{"key": "dedicated", "value": "gpu", "effect": "NO_SCHEDULE"}]),
            ],
            ["CPU work can occupy them"],
        ),
        Case(
            "gpu-pool-taints",
            "missing",
            [*providers(), node_pool(taints=None)],
            ["spec.template.spec.taints is not set"],
        ),
        Case("spot-diversity", "ok", [*providers(), node_group(), gke_pool()]),
        Case(
            "spot-diversity",
            "bad",
            [*providers(), node_group(instanceTypes=["g6.xlarge"])],
            ['instanceTypes = ["g6.xlarge"]'],
        ),
        Case(
            "spot-diversity",
            "missing",
            [*providers(), node_group(instanceTypes=None, amiType="AL2023_x86_64_NVIDIA")],
            ["instanceTypes = []"],
        ),
        Case(
            "on-demand-floor",
            "ok",
            [
                *providers(),
                node_group(),
                node_group(
                    "floor",
                    capacityType="ON_DEMAND",
                    instanceTypes=["g6.xlarge"],
                    scalingConfig={"minSize": 1, "maxSize": 1},
                ),
            ],
        ),
        Case(
            "on-demand-floor",
            "bad",
            [
                *providers(),
                node_group(),
                node_group(
                    "floor",
                    capacityType="ON_DEMAND",
                    instanceTypes=["g6.xlarge"],
                    scalingConfig={"minSize": 0, "maxSize": 1},
                ),
            ],
            ["spot L4-24GB capacity"],
        ),
        Case("on-demand-floor", "missing", [*providers(), node_group()], ["onDemandFloor"]),
        Case(
            "multi-zone",
            "ok",
            [*providers(), sub_a, sub_b, eks_cluster([sub_a, sub_b]), gke_cluster()],
        ),
        Case(
            "multi-zone",
            "bad",
            [*providers(), sub_a, sub_a2, eks_cluster([sub_a, sub_a2])],
            ["runs in 1 zone(s)"],
        ),
        Case(
            "multi-zone",
            "missing",
            [*providers(), gke_cluster(location="us-central1-a")],
            ['location = ["us-central1-a"]'],
        ),
        Case(
            "triton-monitored",
            "ok",
            [
                *providers(),
                deployment(),
                pod_monitor(),
                prom_rule(
                    [
                        {
                            "alert": "TritonDown",
                            "expr": "up == 0",
                            "annotations": {"runbook_url": RUNBOOK},
                        }
                    ]
                ),
            ],
        ),
        Case(
            "triton-monitored",
            "bad",
            [*providers(), deployment(), pod_monitor({"app": "other"}), prom_rule([])],
            ["ServiceMonitor/PodMonitor is not set"],
        ),
        Case(
            "triton-monitored",
            "missing",
            [*providers(), deployment()],
            ["ServiceMonitor/PodMonitor is not set", "PrometheusRule is not set"],
        ),
        Case(
            "alert-runbook",
            "ok",
            [
                *providers(),
                prom_rule(
                    [
                        {
                            "alert": "TritonDown",
                            "expr": "up == 0",
                            "annotations": {"runbook_url": RUNBOOK},
                        },
                        {"record": "x", "expr": "y"},
                    ]
                ),
            ],
        ),
        Case(
            "alert-runbook",
            "bad",
            [
                *providers(),
                prom_rule(
                    [
                        {
                            "alert": "TritonDown",
                            "expr": "up == 0",
                            "annotations": {"runbook_url": "http://wiki"},
                        }
                    ]
                ),
            ],
            ['runbook_url (alert TritonDown) = "http://wiki"'],
        ),
        Case(
            "alert-runbook",
            "missing",
            [
                *providers(),
                prom_rule([{"alert": "TritonDown", "expr": "up == 0"}]),
                rec(
                    "aws:cloudwatch/metricAlarm:MetricAlarm",
                    "a",
                    {"comparisonOperator": "GreaterThanThreshold"},
                ),
            ],
            ["runbook_url (alert TritonDown) is not set", "alarmDescription is not set"],
        ),
        Case(
            "alert-mig-metrics",
            "ok",
            [
                *providers(),
                prom_rule(
                    [
                        {
                            "alert": "GpuIdle",
                            "expr": "avg(DCGM_FI_PROF_GR_ENGINE_ACTIVE) < 0.1",
                            "annotations": {"runbook_url": RUNBOOK},
                        }
                    ]
                ),
            ],
        ),
        Case(
            "alert-mig-metrics",
            "bad",
            [
                *providers(),
                prom_rule([{"alert": "GpuIdle", "expr": "avg(DCGM_FI_DEV_GPU_UTIL) < 10"}]),
            ],
            ["DCGM_FI_DEV_GPU_UTIL does not exist on MIG"],
        ),
        Case(
            "alert-mig-metrics",
            "missing",
            [*providers(), prom_rule([{"alert": "NoExpr"}])],
            [],
            note="no-expression",
        ),
        Case("gpu-consolidation-delay", "ok", [*providers(), node_pool()]),
        Case(
            "gpu-consolidation-delay",
            "bad",
            [
                *providers(),
                {
                    **node_pool(),
                    "inputs": {
                        **node_pool()["inputs"],
                        "spec": {
                            **node_pool()["inputs"]["spec"],
                            "disruption": {"consolidateAfter": "1m"},
                        },
                    },
                },
            ],
            ['consolidateAfter = "1m"'],
        ),
        Case(
            "gpu-consolidation-delay",
            "missing",
            [
                *providers(),
                {
                    **node_pool(),
                    "inputs": {
                        **node_pool()["inputs"],
                        "spec": {**node_pool()["inputs"]["spec"], "disruption": {}},
                    },
                },
            ],
            ["consolidateAfter is not set"],
        ),
        Case("no-removed-k8s-apis", "ok", [*providers(), rec(HPA, "h", {"spec": {}})]),
        Case(
            "no-removed-k8s-apis",
            "bad",
            [
                *providers(),
                rec("kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler", "h", {"spec": {}}),
            ],
            ['apiVersion = "autoscaling/v2beta2"'],
        ),
        Case(
            "no-removed-k8s-apis",
            "missing",
            [*providers(), rec("kubernetes:policy/v1beta1:PodDisruptionBudget", "p", {})],
            ["policy/v1beta1"],
        ),
        # ---------------- security
        Case("imdsv2-required", "ok", [*providers(), lt(), node_group()]),
        Case(
            "imdsv2-required",
            "bad",
            [
                *providers(),
                lt(metadataOptions={"httpTokens": "optional", "httpPutResponseHopLimit": 3}),
            ],
            ['httpTokens = "optional"', "httpPutResponseHopLimit = 3.0"],
        ),
        Case(
            "imdsv2-required",
            "missing",
            [*providers(), lt(metadataOptions=None), node_group(launchTemplate=None)],
            ["metadataOptions.httpTokens is not set", "launchTemplate is not set"],
        ),
        Case("encrypted-volumes", "ok", [*providers(), lt()]),
        Case(
            "encrypted-volumes",
            "bad",
            [
                *providers(),
                lt(
                    blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]
                ),
            ],
            ['ebs.encrypted = "false"'],
        ),
        Case(
            "encrypted-volumes",
            "missing",
            [
                *providers(),
                rec("aws:ebs/volume:Volume", "v", {"size": 100, "availabilityZone": "us-east-1a"}),
            ],
            ["encrypted is not set"],
        ),
        Case("private-buckets", "ok", [*providers(), *bucket_set(), gcs_bucket()]),
        Case(
            "private-buckets",
            "bad",
            [
                *providers(),
                *bucket_set(
                    pab={
                        "blockPublicAcls": True,
                        "blockPublicPolicy": False,
                        "ignorePublicAcls": True,
                        "restrictPublicBuckets": False,
                    }
                ),
                rec(
                    "gcp:storage/bucketIAMMember:BucketIAMMember",
                    "pub",
                    {"bucket": "gcs", "member": "allUsers", "role": "roles/storage.objectViewer"},
                ),
            ],
            ["blockPublicPolicy, restrictPublicBuckets", "grants the bucket to everyone"],
        ),
        Case(
            "private-buckets",
            "missing",
            [*providers(), *bucket_set(pab=None), gcs_bucket(publicAccessPrevention=None)],
            ["BucketPublicAccessBlock is not set", "publicAccessPrevention is not set"],
        ),
        Case("bucket-kms-encryption", "ok", [*providers(), *bucket_set(), gcs_bucket()]),
        Case(
            "bucket-kms-encryption",
            "bad",
            [*providers(), *bucket_set(sse="AES256")],
            ['server-side encryption = ["AES256"]'],
        ),
        Case(
            "bucket-kms-encryption",
            "missing",
            [*providers(), *bucket_set(sse=None), gcs_bucket(encryption=None)],
            ["server-side encryption is not set", "defaultKmsKeyName is not set"],
        ),
        Case("bucket-tls-only", "ok", [*providers(), *bucket_set()]),
        Case(
            "bucket-tls-only",
            "bad",
            [
                *providers(),
                *bucket_set(tls=False),
                rec(
                    "aws:s3/bucketPolicy:BucketPolicy",
                    "models-p2",
                    {
                        "bucket": "models",
                        "policy": json.dumps(
                            {
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Principal": {"AWS": "arn:aws:iam::1:role/r"},
                                        "Action": "s3:GetObject",
                                        "Resource": "*",
                                    }
                                ]
                            }
                        ),
                    },
                ),
            ],
            ["policy without a TLS condition"],
        ),
        Case(
            "bucket-tls-only",
            "missing",
            [*providers(), *bucket_set(tls=False)],
            ["aws:s3/bucketPolicy:BucketPolicy is not set"],
        ),
        Case(
            "private-cluster-endpoint",
            "ok",
            [*providers(), sub_a, sub_b, eks_cluster([sub_a, sub_b]), gke_cluster()],
        ),
        Case(
            "private-cluster-endpoint",
            "bad",
            [
                *providers(),
                sub_a,
                eks_cluster([sub_a], endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"]),
            ],
            ["endpointPublicAccess = true"],
        ),
        Case(
            "private-cluster-endpoint",
            "missing",
            [
                *providers(),
                sub_a,
                eks_cluster([sub_a], endpointPublicAccess=None),
                gke_cluster(privateClusterConfig=None),
            ],
            ["endpointPublicAccess is not set", "enablePrivateNodes is not set"],
        ),
        Case("shielded-nodes", "ok", [*providers(), gke_cluster(), gke_pool()]),
        Case(
            "shielded-nodes",
            "bad",
            [
                *providers(),
                gke_cluster(enableShieldedNodes=False),
                gke_pool(shieldedInstanceConfig={"enableSecureBoot": False}),
            ],
            ["enableShieldedNodes = false", "enableSecureBoot = false"],
        ),
        Case(
            "shielded-nodes",
            "missing",
            [*providers(), gke_pool(shieldedInstanceConfig=None)],
            ["enableSecureBoot is not set"],
        ),
        Case(
            "workload-identity",
            "ok",
            [
                *providers(),
                sub_a,
                (cluster := eks_cluster([sub_a])),
                rec(
                    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
                    "oidc",
                    {"url": "https://oidc", "clientIdLists": ["sts.amazonaws.com"]},
                    deps={"url": [cluster["urn"]]},
                ),
                gke_cluster(),
                gke_pool(),
            ],
        ),
        Case(
            "workload-identity",
            "bad",
            [*providers(), gke_pool(workloadMetadataConfig={"mode": "GCE_METADATA"})],
            ['mode = "GCE_METADATA"'],
        ),
        Case(
            "workload-identity",
            "missing",
            [*providers(), sub_a, eks_cluster([sub_a]), gke_cluster(workloadIdentityConfig=None)],
            ["eks-pod-identity-agent is not set", "workloadPool is not set"],
        ),
        Case(
            "pod-security-restricted",
            "ok",
            [
                *providers(),
                deployment(),
                {
                    **deployment(
                        "dcgm",
                        container={
                            "name": "dcgm",
                            "image": "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04",
                            "securityContext": {"privileged": True},
                        },
                        namespace="gpu-operator",
                    )
                },
            ],
        ),
        Case(
            "pod-security-restricted",
            "bad",
            [
                *providers(),
                deployment(
                    container=triton_container(
                        securityContext={
                            "privileged": True,
                            "runAsNonRoot": True,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"},
                        }
                    )
                ),
            ],
            ["privileged = true"],
        ),
        Case(
            "pod-security-restricted",
            "missing",
            [*providers(), deployment(container=triton_container(securityContext=None))],
            ["runAsNonRoot is not set", "allowPrivilegeEscalation is not set"],
        ),
        Case(
            "namespace-pod-security",
            "ok",
            [*providers(), ns("serving", "restricted"), ns("gpu-operator", "privileged")],
        ),
        Case(
            "namespace-pod-security",
            "bad",
            [*providers(), ns("serving", "baseline")],
            ['enforce = "baseline"'],
        ),
        Case(
            "namespace-pod-security",
            "missing",
            [*providers(), ns("serving", None)],
            ["enforce is not set"],
        ),
        Case(
            "triton-model-control",
            "ok",
            [
                *providers(),
                deployment(),
                deployment(
                    "plain",
                    container=with_args(
                        drop=("--model-control-mode", "--http-restricted", "--grpc-restricted")
                    ),
                ),
            ],
        ),
        Case(
            "triton-model-control",
            "bad",
            [
                *providers(),
                deployment(
                    container=with_args("--model-control-mode=poll", drop=("--model-control-mode",))
                ),
            ],
            ['--model-control-mode = "poll"'],
        ),
        Case(
            "triton-model-control",
            "missing",
            [
                *providers(),
                deployment(container=with_args(drop=("--http-restricted", "--grpc-restricted"))),
            ],
            ["--http-restricted-api is not set", "--grpc-restricted-protocol is not set"],
        ),
        Case(
            "no-iam-wildcards",
            "ok",
            [
                *providers(),
                iam_policy(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["s3:GetObject", "s3:ListBucket"],
                                "Resource": "*",
                            }
                        ]
                    }
                ),
            ],
        ),
        Case(
            "no-iam-wildcards",
            "bad",
            [
                *providers(),
                iam_policy({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}),
                rec(
                    "gcp:projects/iAMMember:IAMMember",
                    "owner",
                    {"role": "roles/owner", "member": "user:a@example.com", "project": "p"},
                ),
            ],
            ['["s3:*"]', "primitive role"],
        ),
        Case(
            "no-iam-wildcards",
            "missing",
            [
                *providers(),
                rec(
                    "aws:iam/role:Role",
                    "r",
                    {
                        "assumeRolePolicy": json.dumps(
                            {
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Principal": "*",
                                        "Action": "sts:AssumeRole",
                                    }
                                ]
                            }
                        ),
                        "tags": {},
                    },
                ),
            ],
            ["anyone may assume the role"],
        ),
        Case(
            "no-static-credentials",
            "ok",
            [
                *providers(),
                deployment(),
                rec("kubernetes:core/v1:Secret", "s", {"stringData": {"admin-header": "x"}}),
            ],
        ),
        Case(
            "no-static-credentials",
            "bad",
            [
                *providers(),
                rec("aws:iam/accessKey:AccessKey", "k", {"user": "ci"}),
                rec(
                    "kubernetes:core/v1:Secret",
                    "s",
                    {"stringData": {"AWS_SECRET_ACCESS_KEY": "abc"}},
                ),
            ],
            ["long-lived static credential", "stringData.AWS_SECRET_ACCESS_KEY"],
        ),
        Case(
            "no-static-credentials",
            "missing",
            [
                *providers(),
                deployment(
                    container=triton_container(
                        env=[{"name": "AWS_SECRET_ACCESS_KEY", "value": "abc"}]
                    )
                ),
            ],
            ["env[0] (AWS_SECRET_ACCESS_KEY)"],
        ),
        *secret_literal_cases(),
        Case("pinned-images", "ok", [*providers(), deployment(), helm("v25.3.0")]),
        Case(
            "pinned-images",
            "bad",
            [
                *providers(),
                deployment(container=triton_container(image="nvcr.io/nvidia/tritonserver:latest")),
                helm("~25.3"),
            ],
            ["moving tag :latest", 'version = "~25.3"'],
        ),
        Case(
            "pinned-images",
            "missing",
            [
                *providers(),
                deployment(container=triton_container(image="nvcr.io/nvidia/tritonserver")),
                helm(None),
            ],
            ["has no tag", "version is not set"],
        ),
        Case(
            "cluster-secrets-encryption",
            "ok",
            [*providers(), sub_a, eks_cluster([sub_a]), gke_cluster()],
        ),
        Case(
            "cluster-secrets-encryption",
            "bad",
            [*providers(), gke_cluster(databaseEncryption={"state": "DECRYPTED"})],
            ['state = "DECRYPTED"'],
        ),
        Case(
            "cluster-secrets-encryption",
            "missing",
            [
                *providers(),
                sub_a,
                {
                    **eks_cluster([sub_a]),
                    "inputs": {"roleArn": "r", "vpcConfig": {"subnetIds": ["s"]}},
                },
            ],
            ["encryptionConfig is not set"],
        ),
    ]
