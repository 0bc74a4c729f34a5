"""SageMaker Serverless Inference endpoint for a light CPU model, kept warm for known peaks.

Creates the execution role (read-only on the one model artifact, its image
repository and its own log group; nothing else), the endpoint's log group with a
retention period, the SageMaker model (a Triton container serving one model of
the repository), an endpoint configuration with ``serverless_config`` (memory, max
concurrency, provisioned concurrency as the warm floor), the endpoint, scheduled
scaling of provisioned concurrency for known peaks (Application Auto Scaling on
``sagemaker:variant:DesiredProvisionedConcurrency``), and CloudWatch alarms on
cold starts (``ModelSetupTime``), the 5xx error rate and concurrency saturation
(serverless endpoints publish no throttle count: requests above max concurrency
are refused, so the alarm fires on ``ServerlessConcurrentExecutionsUtilization``
before that point). Every alarm names its runbook.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from blueprint.limits import IAM_ROLE_NAME, autoname_within

TYPE = "llm-inference:aws:SageMakerServerless"
VARIANT = "AllTraffic"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"
"""Application Auto Scaling's dimension for a serverless variant's provisioned concurrency."""
NAMESPACE = "AWS/SageMaker"

ALARM_COLD_START = "ServerlessColdStartsHigh"
ALARM_ERRORS = "ServerlessEndpointErrors"
ALARM_SATURATED = "ServerlessEndpointThrottling"
ALARMS = (ALARM_COLD_START, ALARM_ERRORS, ALARM_SATURATED)
"""Alarm kinds, named like the Prometheus alerts on the same CloudWatch metrics
(monitoring/rules/serverless.yaml, through YACE) so both lead to one runbook,
``runbooks/<kind>.md``. These CloudWatch alarms are the cloud-side backstop: they
fire even when the cluster's Prometheus is down."""

_ECR = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)"
)


@dataclass(frozen=True, kw_only=True)
class ModelArtifact:
    """Where the endpoint's model lives: a ``model.tar.gz`` holding a Triton model repository."""

    bucket: pulumi.Input[str]
    key: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None
    """The bucket's KMS key, when objects are encrypted with one (the role may decrypt)."""
    uploads: Sequence[pulumi.Resource] = ()
    """The bucket object(s) holding the artifact: the model waits for their upload
    (SageMaker reads the artifact when the model is created)."""


@dataclass(frozen=True, kw_only=True)
class Peak:
    """Provisioned concurrency raised to ``provisioned_concurrency`` from ``start`` to ``end``."""

    start: str
    end: str
    provisioned_concurrency: int
    timezone: str = "UTC"


@dataclass(frozen=True, kw_only=True)
class SageMakerServerlessArgs:
    endpoint_name: str
    """The SageMaker endpoint's name (also its log group's and alarms' prefix)."""
    image: str
    """An exactly pinned Triton image in ECR (SageMaker pulls only from ECR)."""
    repo_model: str
    """The Triton model the container serves by default."""
    artifact: ModelArtifact
    kms_key_arn: pulumi.Input[str] | None = None
    """The customer-managed key of the endpoint configuration (``KmsKeyId``): SageMaker
    encrypts what it stores for a serverless endpoint, such as its copy of the image,
    with it. None: an AWS-owned key."""
    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int = 0
    """Warm instances always kept (0: cold starts on every scale-out)."""
    peaks: Mapping[str, Peak] = field(default_factory=dict)
    log_retention_days: int = 30
    alert_emails: Sequence[str] = ()
    """On-call addresses: the alarms notify an SNS topic with these subscribed."""
    alarm_topic_arns: Sequence[pulumi.Input[str]] = ()
    """Further SNS topics the alarms notify (e.g. one feeding Alertmanager)."""
    runbook_base_url: str = ""
    cold_start_alarm_seconds: float = 10.0
    error_rate_percent: float = 5.0
    saturation_ratio: float = 0.9
    tags: Mapping[str, str] = field(default_factory=dict)


def ecr_repository_arn(image: str) -> str | None:
    """The ECR repository ARN of an image URI, or None for an image outside ECR."""
    m = _ECR.match(image)
    if m is None:
        return None
    return f"arn:aws:ecr:{m['region']}:{m['account']}:repository/{m['repo']}"


def execution_policy(
    *, artifact_arn: str, log_group_arn: str, repository_arn: str | None, kms_key_arn: str | None
) -> dict[str, object]:
    """The execution role's policy: named actions on named resources only.

    ``ecr:GetAuthorizationToken`` and ``cloudwatch:PutMetricData`` have no resource
    level in IAM, so they take ``*``; the metric namespace is pinned by condition.
    """
    statements: list[dict[str, object]] = [
        {
            "Sid": "ReadModelArtifact",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [artifact_arn],
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        },
        {
            "Sid": "PublishEndpointMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
        },
    ]
    if repository_arn is not None:
        statements += [
            {
                "Sid": "PullImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": [repository_arn],
            },
            {
                "Sid": "EcrLogin",
                "Effect": "Allow",
                "Action": ["ecr:GetAuthorizationToken"],
                "Resource": ["*"],
            },
        ]
    if kms_key_arn is not None:
        statements.append(
            {
                "Sid": "DecryptModelArtifact",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [kms_key_arn],
                # kms:ViaService is the regional endpoint of the service calling KMS
                # (s3.<region>.amazonaws.com); a bare "s3.amazonaws.com" never matches.
                "Condition": {"StringEquals": {"kms:ViaService": via_service("s3", kms_key_arn)}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


DNS_SUFFIXES = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
"""The service endpoints' DNS suffix per AWS partition (kms:ViaService values end with it)."""


def via_service(service: str, key_arn: str) -> str:
    """The ``kms:ViaService`` value of ``service`` calling KMS for ``key_arn``.

    SSE-KMS needs the key in the bucket's region, so the key's region is the
    calling endpoint's: ``arn:aws:kms:us-east-1:...`` -> ``s3.us-east-1.amazonaws.com``.
    """
    parts = key_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "kms" or not parts[3]:
        raise ValueError(f"not a regional KMS key ARN: {key_arn!r}")
    return f"{service}.{parts[3]}.{DNS_SUFFIXES.get(parts[1], 'amazonaws.com')}"


class SageMakerServerless(pulumi.ComponentResource):
    endpoint_name: pulumi.Output[str]
    """The endpoint's name (InvokeEndpoint takes it)."""
    endpoint_arn: pulumi.Output[str]
    """The endpoint's ARN (what an invoke policy grants)."""
    role_arn: pulumi.Output[str]
    """The execution role's ARN."""
    log_group_name: pulumi.Output[str]
    """The endpoint's CloudWatch log group."""
    alarm_names: pulumi.Output[list[str]]
    """The CloudWatch alarms, cold start, errors and saturation."""
    alarm_topic_arn: pulumi.Output[str]
    """The SNS topic the alarms notify."""

    def __init__(
        self, name: str, args: SageMakerServerlessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        logs = self._create_log_group()
        role, policy = self._create_role(logs)
        model = self._create_model(role, policy)
        endpoint = self._create_endpoint(model)
        self._create_peak_schedule(endpoint)
        topic = self._create_topic()
        alarms = self._create_alarms(endpoint, topic)

        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.role_arn = role.arn
        self.log_group_name = logs.name
        self.alarm_names = pulumi.Output.all(*[a.name for a in alarms])
        self.alarm_topic_arn = topic.arn
        self.register_outputs(
            {
                "alarm_topic_arn": self.alarm_topic_arn,
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
                "role_arn": self.role_arn,
                "log_group_name": self.log_group_name,
                "alarm_names": self.alarm_names,
            }
        )

    def _tags(self, **extra: str) -> dict[str, str]:
        return {**self._args.tags, **extra}

    def _create_log_group(self) -> aws.cloudwatch.LogGroup:
        # SageMaker writes to this fixed name; creating it first gives it a retention.
        return aws.cloudwatch.LogGroup(
            f"{self._name}-logs",
            name=f"/aws/sagemaker/Endpoints/{self._args.endpoint_name}",
            retention_in_days=self._args.log_retention_days,
            tags=self._tags(),
            opts=self._child,
        )

    def _create_role(
        self, logs: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        a = self._args
        role = aws.iam.Role(
            f"{self._name}-execution",
            name=autoname_within(f"{self._name}-execution", IAM_ROLE_NAME),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sagemaker.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=self._tags(),
            opts=self._child,
        )
        artifact_arn = pulumi.Output.concat("arn:aws:s3:::", a.artifact.bucket, "/", a.artifact.key)
        kms = pulumi.Output.from_input(a.artifact.kms_key_arn)
        policy = aws.iam.RolePolicy(
            f"{self._name}-execution",
            role=role.id,
            policy=pulumi.Output.all(artifact_arn, logs.arn, kms).apply(
                lambda v: json.dumps(
                    execution_policy(
                        artifact_arn=v[0],
                        log_group_arn=v[1],
                        repository_arn=ecr_repository_arn(a.image),
                        kms_key_arn=v[2],
                    )
                )
            ),
            opts=self._child,
        )
        return role, policy

    def _create_model(self, role: aws.iam.Role, policy: aws.iam.RolePolicy) -> aws.sagemaker.Model:
        a = self._args
        return aws.sagemaker.Model(
            f"{self._name}-model",
            execution_role_arn=role.arn,
            primary_container={
                "image": a.image,
                "model_data_url": pulumi.Output.concat(
                    "s3://", a.artifact.bucket, "/", a.artifact.key
                ),
                "environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": a.repo_model},
            },
            tags=self._tags(model=a.repo_model),
            # SageMaker validates the artifact when the model is created: the role's
            # policy and the artifact itself must exist by then.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *a.artifact.uploads]),
        )

    def _create_endpoint(self, model: aws.sagemaker.Model) -> aws.sagemaker.Endpoint:
        a = self._args
        serverless: dict[str, int] = {
            "max_concurrency": a.max_concurrency,
            "memory_size_in_mb": a.memory_mb,
        }
        if a.provisioned_concurrency:
            serverless["provisioned_concurrency"] = a.provisioned_concurrency
        config = aws.sagemaker.EndpointConfiguration(
            f"{self._name}-config",
            production_variants=[
                aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                    variant_name=VARIANT,
                    model_name=model.name,
                    serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                        **serverless
                    ),
                )
            ],
            kms_key_arn=a.kms_key_arn,
            tags=self._tags(model=a.repo_model),
            opts=self._child,
        )
        return aws.sagemaker.Endpoint(
            f"{self._name}-endpoint",
            name=a.endpoint_name,
            endpoint_config_name=config.name,
            tags=self._tags(model=a.repo_model),
            opts=self._child,
        )

    def _create_peak_schedule(self, endpoint: aws.sagemaker.Endpoint) -> None:
        a = self._args
        if not a.peaks:
            return
        resource_id = pulumi.Output.concat("endpoint/", endpoint.name, "/variant/", VARIANT)
        target = aws.appautoscaling.Target(
            f"{self._name}-provisioned",
            service_namespace="sagemaker",
            resource_id=resource_id,
            scalable_dimension=SCALABLE_DIMENSION,
            min_capacity=a.provisioned_concurrency,
            max_capacity=max(p.provisioned_concurrency for p in a.peaks.values()),
            # Scheduled actions move min/max; a later `up` must not move them back.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["minCapacity", "maxCapacity"]),
        )
        for peak_name, peak in sorted(a.peaks.items()):
            for edge, schedule, capacity in (
                ("start", peak.start, peak.provisioned_concurrency),
                ("end", peak.end, a.provisioned_concurrency),
            ):
                aws.appautoscaling.ScheduledAction(
                    f"{self._name}-{peak_name}-{edge}",
                    name=f"{a.endpoint_name}-{peak_name}-{edge}",
                    service_namespace=target.service_namespace,
                    resource_id=target.resource_id,
                    scalable_dimension=target.scalable_dimension,
                    schedule=schedule,
                    timezone=peak.timezone,
                    # min = max pins provisioned concurrency: no policy moves it between.
                    scalable_target_action={"min_capacity": capacity, "max_capacity": capacity},
                    opts=self._child,
                )

    def _create_topic(self) -> aws.sns.Topic:
        topic = aws.sns.Topic(
            f"{self._name}-alarms",
            name=f"{self._args.endpoint_name}-alarms",
            # Encrypted with the AWS-managed key for SNS.
            kms_master_key_id="alias/aws/sns",
            tags=self._tags(),
            opts=self._child,
        )
        for i, email in enumerate(self._args.alert_emails):
            aws.sns.TopicSubscription(
                f"{self._name}-alarms-{i}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=self._child,
            )
        return topic

    def _alarm_description(self, kind: str, what: str) -> str:
        runbook = f"{self._args.runbook_base_url.rstrip('/')}/{kind}.md"
        return f"{what} Endpoint {self._args.endpoint_name}. Runbook: {runbook}"

    def _create_alarms(
        self, endpoint: aws.sagemaker.Endpoint, topic: aws.sns.Topic
    ) -> list[aws.cloudwatch.MetricAlarm]:
        a = self._args
        dims: dict[str, pulumi.Input[str]] = {"EndpointName": endpoint.name, "VariantName": VARIANT}
        actions: list[pulumi.Input[str]] = [topic.arn, *a.alarm_topic_arns]
        tags = self._tags(model=a.repo_model)
        cold = aws.cloudwatch.MetricAlarm(
            f"{self._name}-cold-start",
            name=f"{a.endpoint_name}-{ALARM_COLD_START}",
            alarm_description=self._alarm_description(
                ALARM_COLD_START,
                f"New serverless compute took over {a.cold_start_alarm_seconds:g} s to start "
                "(ModelSetupTime); requests waited on cold starts.",
            ),
            namespace=NAMESPACE,
            metric_name="ModelSetupTime",
            dimensions=dims,
            statistic="Maximum",
            period=300,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            # ModelSetupTime is in microseconds.
            threshold=a.cold_start_alarm_seconds * 1_000_000,
            comparison_operator="GreaterThanThreshold",
            # No cold start means no data point: that is healthy.
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=self._child,
        )
        errors = aws.cloudwatch.MetricAlarm(
            f"{self._name}-errors",
            name=f"{a.endpoint_name}-{ALARM_ERRORS}",
            alarm_description=self._alarm_description(
                ALARM_ERRORS,
                f"More than {a.error_rate_percent:g}% of invocations returned 5xx.",
            ),
            metric_queries=[
                _metric_query("errors", "Invocation5XXErrors", dims),
                _metric_query("invocations", "Invocations", dims),
                {
                    "id": "rate",
                    "expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
                    "label": "5xx error rate (%)",
                    "return_data": True,
                },
            ],
            evaluation_periods=3,
            datapoints_to_alarm=3,
            threshold=a.error_rate_percent,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=self._child,
        )
        saturated = aws.cloudwatch.MetricAlarm(
            f"{self._name}-saturated",
            name=f"{a.endpoint_name}-{ALARM_SATURATED}",
            alarm_description=self._alarm_description(
                ALARM_SATURATED,
                f"Concurrent executions reached {a.saturation_ratio:.0%} of max concurrency "
                f"({a.max_concurrency}); requests above it are throttled.",
            ),
            namespace=NAMESPACE,
            metric_name="ServerlessConcurrentExecutionsUtilization",
            dimensions=dims,
            statistic="Maximum",
            period=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            threshold=a.saturation_ratio,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=self._child,
        )
        return [cold, errors, saturated]


def _metric_query(
    query_id: str, metric: str, dims: Mapping[str, pulumi.Input[str]]
) -> aws.cloudwatch.MetricAlarmMetricQueryArgsDict:
    return {
        "id": query_id,
        "return_data": False,
        "metric": {
            "namespace": NAMESPACE,
            "metric_name": metric,
            "dimensions": dims,
            "period": 300,
            "stat": "Sum",
        },
    }


INVOKER_TYPE = "llm-inference:aws:SageMakerInvoker"


@dataclass(frozen=True, kw_only=True)
class SageMakerInvokerArgs:
    assume_role_policy: pulumi.Input[str]
    """Who may use the role: e.g. the gateway's SigV4 proxy service account (IRSA)."""
    endpoint_arns: Sequence[pulumi.Input[str]]
    tags: Mapping[str, str] = field(default_factory=dict)


class SageMakerInvoker(pulumi.ComponentResource):
    """A role that may invoke the named SageMaker endpoints and do nothing else."""

    role_arn: pulumi.Output[str]
    """The role's ARN (annotate the service account with it)."""

    def __init__(
        self, name: str, args: SageMakerInvokerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(INVOKER_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            name=autoname_within(f"{name}-role", IAM_ROLE_NAME),
            assume_role_policy=args.assume_role_policy,
            tags=dict(args.tags),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-invoke",
            role=role.id,
            policy=pulumi.Output.all(*args.endpoint_arns).apply(
                lambda arns: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["sagemaker:InvokeEndpoint"],
                                "Resource": sorted(arns),
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})
