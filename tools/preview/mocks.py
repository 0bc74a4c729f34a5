"""Pulumi mocks for the offline preview: what the cloud would answer, made up deterministically.

A real deployment gets IDs, ARNs and endpoints from the providers. Offline, the
program still needs plausible values for the outputs it feeds into other
resources (an ARN into a policy, an endpoint into a kubeconfig). Every value here
derives from the resource's type and name, so two runs give the same plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import rpc

FAKE_ACCOUNT = "123456789012"
"""The AWS account the offline preview pretends to run in."""

Computed = Callable[[str, Mapping[str, Any], str], dict[str, Any]]
"""``(resource name, inputs, region of its provider) -> outputs the provider computes``."""

DEFAULT_REGION = "us-east-1"
"""The region of an AWS resource whose provider does not say (the provider's own default)."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:12]


def _aws_arn(service: str, kind: str, name_input: str = "name", *, lower: bool = False) -> Computed:
    """A regional ARN, as the provider returns it: the resource's own name (the
    ``name_input`` the program set, else the Pulumi name) in its provider's region."""

    def computed(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
        own = str(inputs.get(name_input) or name)
        own = own.lower() if lower else own
        return {"arn": f"arn:aws:{service}:{region}:{FAKE_ACCOUNT}:{kind}{own}"}

    return computed


def _iam_arn(kind: str) -> Computed:
    """IAM is global: its ARNs carry no region."""

    def computed(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
        own = str(inputs.get("name") or name)
        return {"arn": f"arn:aws:iam::{FAKE_ACCOUNT}:{kind}{own}"}

    return computed


def _eks_cluster(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    cluster = inputs.get("name", name)
    oidc = f"oidc.eks.{region}.amazonaws.com/id/{_digest(cluster).upper()}"
    return {
        "arn": f"arn:aws:eks:{region}:{FAKE_ACCOUNT}:cluster/{cluster}",
        "endpoint": f"https://{_digest(cluster, 'api').upper()}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
        "identities": [{"oidcs": [{"issuer": f"https://{oidc}"}]}],
        "vpcConfig": {
            **dict(inputs.get("vpcConfig") or {}),
            "clusterSecurityGroupId": f"sg-{_digest(cluster)}",
        },
    }


def _gke_cluster(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    cluster = inputs.get("name", name)
    return {
        "endpoint": f"10.0.{int(_digest(cluster)[:2], 16) % 250}.2",
        "masterAuth": {"clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
        "selfLink": f"https://container.googleapis.com/v1/projects/p/locations/l/clusters/{cluster}",
    }


def _oidc_provider(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    url = str(inputs.get("url", name)).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{FAKE_ACCOUNT}:oidc-provider/{url}"}


def _sqs_queue(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    queue = inputs.get("name", name)
    return {
        "arn": f"arn:aws:sqs:{region}:{FAKE_ACCOUNT}:{queue}",
        "url": f"https://sqs.{region}.amazonaws.com/{FAKE_ACCOUNT}/{queue}",
    }


def _gcp_service_account(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    account = inputs.get("accountId", name)
    project = inputs.get("project", "offline-project")
    return {"email": f"{account}@{project}.iam.gserviceaccount.com"}


def _existing_eks_cluster(call: Mapping[str, Any], region: str) -> dict[str, Any]:
    """An adopted EKS cluster (``clusters.*.existing``), as ``aws.eks.get_cluster`` reads it:
    the same made-up endpoint, issuer and security group a created one of that name gets."""
    cluster = str(call["name"])
    made = _eks_cluster(cluster, {"name": cluster}, region)
    return {
        "id": cluster,
        "name": cluster,
        "arn": made["arn"],
        "endpoint": made["endpoint"],
        "certificateAuthorities": [made["certificateAuthority"]],
        "identities": made["identities"],
        "vpcConfig": {
            "clusterSecurityGroupId": made["vpcConfig"]["clusterSecurityGroupId"],
            "vpcId": f"vpc-{_digest(cluster, 'vpc')}",
            "subnetIds": [],
        },
        "status": "ACTIVE",
    }


def _existing_gke_cluster(call: Mapping[str, Any], region: str) -> dict[str, Any]:
    """An adopted GKE cluster, as ``gcp.container.get_cluster`` reads it (Workload Identity on)."""
    cluster = str(call["name"])
    project = str(call.get("project") or "offline-project")
    made = _gke_cluster(cluster, {"name": cluster}, region)
    return {
        "id": f"projects/{project}/locations/{call.get('location')}/clusters/{cluster}",
        "name": cluster,
        "project": project,
        "endpoint": made["endpoint"],
        "masterAuths": [made["masterAuth"]],
        "workloadIdentityConfigs": [{"workloadPool": f"{project}.svc.id.goog"}],
    }


def _existing_oidc_provider(call: Mapping[str, Any], region: str) -> dict[str, Any]:
    url = str(call.get("url") or "").removeprefix("https://")
    return {"id": url, "url": url, **_oidc_provider(url, {"url": url}, region)}


def _existing_vpc(call: Mapping[str, Any], region: str) -> dict[str, Any]:
    vpc = str(call["id"])
    return {
        "id": vpc,
        "arn": f"arn:aws:ec2:{region}:{FAKE_ACCOUNT}:vpc/{vpc}",
        "state": "available",
    }


def _existing_subnet(call: Mapping[str, Any], region: str) -> dict[str, Any]:
    # The lookup filters by zone and VPC: a subnet found is one that matches both.
    subnet = str(call["id"])
    return {
        "id": subnet,
        "arn": f"arn:aws:ec2:{region}:{FAKE_ACCOUNT}:subnet/{subnet}",
        "availabilityZone": call.get("availabilityZone"),
        "vpcId": call.get("vpcId"),
    }


LOOKUPS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "aws:eks/getCluster:getCluster": _existing_eks_cluster,
    "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": _existing_oidc_provider,
    "aws:ec2/getVpc:getVpc": _existing_vpc,
    "aws:ec2/getSubnet:getSubnet": _existing_subnet,
    "gcp:container/getCluster:getCluster": _existing_gke_cluster,
}
"""Invokes that read infrastructure the stack uses but does not manage (the ``existing``
options), by token: ``(invoke args, region of the provider) -> result``."""


def _secret(value: Any) -> dict[str, Any]:
    """An output value the provider marks secret, as the engine sends one back."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


OFFLINE_PASSWORD = "offline-placeholder-password"  # noqa: S105 (never deployed)
"""What ``random.RandomPassword`` gives offline: not random, and always secret."""


def _random_password(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    # The provider marks result and bcryptHash secret; so does the offline answer, so the
    # plan shows [secret] wherever the password goes.
    return {"result": _secret(OFFLINE_PASSWORD), "bcryptHash": _secret(OFFLINE_PASSWORD)}


def _gcp_autonamed(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    """A GCP resource the program leaves unnamed gets its Pulumi name (plus a random
    suffix for real; the offline preview keeps it deterministic), as other resources
    and the stack's outputs read ``.name``."""
    return {"name": inputs.get("name") or name}


def _number(*parts: str) -> str:
    """A 10-digit id, as Vertex AI and Route 53 hand out."""
    return str(int(_digest(*parts), 16) % 10**10).rjust(10, "1")


def _load_balancer_service(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    """A LoadBalancer Service gets an address once the cloud provisions it."""
    spec = dict(inputs.get("spec") or {})
    if spec.get("type") != "LoadBalancer":
        return {}
    host = f"{_digest(name, 'lb')}.elb.{region}.amazonaws.com"
    return {"status": {"loadBalancer": {"ingress": [{"hostname": host}]}}}


COMPUTED: dict[str, Computed] = {
    "aws:iam/role:Role": _iam_arn("role/"),
    "aws:iam/policy:Policy": _iam_arn("policy/"),
    "aws:kms/key:Key": _aws_arn("kms", "key/"),
    "aws:s3/bucket:Bucket": lambda name, inputs, region: {
        "arn": f"arn:aws:s3:::{inputs.get('bucket', name)}",
        "bucket": inputs.get("bucket", name),
    },
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:ec2/launchTemplate:LaunchTemplate": lambda name, inputs, region: {
        "arn": f"arn:aws:ec2:{region}:{FAKE_ACCOUNT}:launch-template/lt-{_digest(name)}",
        "latestVersion": 1,
    },
    "gcp:serviceaccount/account:Account": _gcp_service_account,
    "aws:sns/topic:Topic": _aws_arn("sns", ""),
    "aws:cloudwatch/logGroup:LogGroup": _aws_arn("logs", "log-group:"),
    # SageMaker lowercases the endpoint's name in its ARN.
    "aws:sagemaker/endpoint:Endpoint": _aws_arn("sagemaker", "endpoint/", lower=True),
    "gcp:compute/network:Network": _gcp_autonamed,
    "gcp:compute/router:Router": _gcp_autonamed,
    "gcp:compute/subnetwork:Subnetwork": _gcp_autonamed,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "gcp:container/cluster:Cluster": _gke_cluster,
    # Serverless, Vertex AI (dynamic providers), routing and DNS.
    "pulumi-python:dynamic/vertex:Model": lambda name, inputs, region: {
        "modelName": f"{inputs.get('parent')}/models/{_number(name)}"
    },
    "pulumi-python:dynamic/vertex:DeployedModel": lambda name, inputs, region: {
        "deployedModelId": _number(name, "deployed"),
        "serviceAttachment": f"projects/vertex-tenant/regions/r/serviceAttachments/{_digest(name)}",
    },
    "pulumi-python:dynamic/vertex:DriftMonitor": lambda name, inputs, region: {
        "jobName": f"{inputs.get('parent')}/modelDeploymentMonitoringJobs/{_number(name)}"
    },
    "kubernetes:core/v1:Service": _load_balancer_service,
    "random:index/randomPassword:RandomPassword": _random_password,
    "aws:route53/zone:Zone": lambda name, inputs, region: {
        "zoneId": f"Z{_digest(name).upper()}",
        "nameServers": [f"ns-{i}.awsdns-{_number(name)[:2]}.com" for i in range(1, 5)],
    },
}
"""Outputs a provider computes, by resource type; other outputs echo the inputs."""

ID_PREFIXES: dict[str, str] = {"aws:ec2/subnet:Subnet": "subnet-"}
"""Types whose IDs reach a schema that checks their shape (Karpenter's EC2NodeClass takes
``subnetSelectorTerms[].id`` matching ``subnet-[0-9a-z]+``): the mock ID keeps it."""

AUTONAMED: frozenset[str] = frozenset({"aws:iam/role:Role"})
"""Types whose ``name`` the provider fills in when the program leaves it out (Pulumi
auto-naming), and that other resources refer to by name (an EC2NodeClass's ``role``, a
policy attachment's ``role``). Offline the name is the resource's own name."""


def resource_id(type_: str, name: str) -> str:
    """The ID the offline preview gives resource ``name`` of type ``type_``."""
    prefix = ID_PREFIXES.get(type_)
    if prefix is None:
        return f"{name}-id"
    return prefix + hashlib.sha256(f"{type_}/{name}".encode()).hexdigest()[:17]


class BlueprintMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes for the offline preview."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._stack_outputs = dict(stack_outputs or {})
        self._regions: dict[str, str] = {}
        """Region of each AWS provider, by its name (ARNs carry their provider's region)."""

    def _region(self, provider: str | None) -> str:
        # A provider reference is "<urn>::<id>"; a URN ends with the resource's name.
        parts = str(provider or "").split("::")
        return self._regions.get(parts[-2] if len(parts) >= 2 else "", DEFAULT_REGION)

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            ref = str(args.inputs.get("name", args.name))
            outputs = self._stack_outputs.get(ref.rsplit("/", 1)[-1])
            if outputs is None:
                raise KeyError(
                    f"stack reference {ref!r}: the offline preview has no outputs for that stack"
                )
            return ref, {"name": ref, "outputs": dict(outputs), "secretOutputNames": []}
        if args.typ in AUTONAMED and not state.get("name"):
            state["name"] = args.name
        if args.typ == "pulumi:providers:aws":
            self._regions[args.name] = str(args.inputs.get("region") or DEFAULT_REGION)
        region = self._region(args.provider)
        computed = COMPUTED.get(args.typ)
        if computed is not None:
            state.update(computed(args.name, args.inputs, region))
        elif args.typ.startswith("aws:") and "arn" not in state:
            service = args.typ.split(":")[1].split("/")[0]
            state["arn"] = f"arn:aws:{service}:{region}:{FAKE_ACCOUNT}:{args.name}"
        return resource_id(args.typ, args.name), state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        invoke = args.token
        if invoke == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": FAKE_ACCOUNT,
                "arn": f"arn:aws:iam::{FAKE_ACCOUNT}:user/offline-preview",
                "userId": "AIDAOFFLINEPREVIEW",
                "id": FAKE_ACCOUNT,
            }, []
        if invoke == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if invoke == "aws:index/getRegion:getRegion":
            region = str(args.args.get("region") or args.args.get("name") or "us-east-1")
            return {"name": region, "region": region, "id": region}, []
        if invoke == "gcp:organizations/getProject:getProject":
            project = str(args.args.get("projectId") or "offline-project")
            # A list of failures, not None: the SDK iterates over it.
            return {"projectId": project, "number": "123456789012", "name": project}, []
        lookup = LOOKUPS.get(invoke)
        if lookup is not None:
            return lookup(args.args, self._region(args.provider)), []
        raise NotImplementedError(
            f"the offline preview has no answer for invoke {invoke!r}; "
            "add one to tools/preview/mocks.py or avoid the lookup (deterministic programs)"
        )
