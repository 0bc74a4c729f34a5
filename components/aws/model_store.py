"""AWS model store: model_repo/ in a private, versioned, KMS-encrypted S3 bucket.

Creates a customer-managed KMS key (rotation on), the bucket with versioning,
SSE-KMS by default (bucket key on), every public access blocked, ACLs disabled
(bucket-owner-enforced), a bucket policy that refuses plain HTTP, a lifecycle rule
that expires old object versions, one object per repository file under a
content-addressed prefix (``<prefix>/<snapshot digest>/<model>/...``, the weights a
version's ``weights.json`` lists included, so each model folder is complete), a
read-only IAM policy, and one role per reader whose trust policy the caller gives
(IRSA for a Triton service account: ``ClusterHandle.irsa_assume_role_policy``).

LLM weights live under ``llm-weights/``: one read-only role per LLM deployment for
exactly its weights' prefix, one write-only role per opt-in hub import for exactly
the prefix it fills, and the objects of weights converted from a package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from blueprint.limits import IAM_ROLE_NAME, autoname_within
from blueprint.modelrepo.snapshot import RepositorySnapshot

TYPE = "llm-inference:aws:ModelStore"


@dataclass(frozen=True, kw_only=True)
class WeightsAccess:
    """A role that reads (or writes) one LLM weights prefix, and who may assume it."""

    trust: pulumi.Input[str]
    """The role's trust policy (IRSA for the pod's service account)."""
    prefix: str
    """``llm-weights/...`` without a trailing slash."""


@dataclass(frozen=True, kw_only=True)
class WeightsFile:
    path: str
    """Local file (a converted weights file under build/)."""
    sha256: str


@dataclass(frozen=True, kw_only=True)
class AwsModelStoreArgs:
    bucket_name: str
    """Globally unique S3 bucket name (kept stable: the bucket is stateful)."""
    snapshot: RepositorySnapshot
    """The model repository files to upload (blueprint.modelrepo.snapshot)."""
    prefix: str = "model_repo"
    noncurrent_version_days: int = 30
    """Old object versions are deleted this many days after they stop being current."""
    kms_deletion_window_days: int = 30
    readers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Reader name -> trust policy (JSON) of a role that may read the repository."""
    artifacts: Mapping[str, str] = field(default_factory=dict)
    """Extra objects: key -> local file (e.g. a SageMaker ``model.tar.gz``, whose key
    carries the model's content digest)."""
    weights_readers: Mapping[str, WeightsAccess] = field(default_factory=dict)
    """LLM deployment -> the weights prefix its pods copy at start."""
    weights_writers: Mapping[str, WeightsAccess] = field(default_factory=dict)
    """Hub import -> the weights prefix it fills (write only, no read, no delete)."""
    weights_files: Mapping[str, WeightsFile] = field(default_factory=dict)
    """Object key under ``llm-weights/`` -> a local file to publish."""
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect the bucket and its key from deletion (Pulumi's protect)."""


class AwsModelStore(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """The bucket's name."""
    repository_uri: pulumi.Output[str]
    """What Triton's --model-repository takes: s3://<bucket>/<prefix>/<digest>."""
    kms_key_arn: pulumi.Output[str]
    """The customer-managed key that encrypts the objects."""
    reader_policy_arn: pulumi.Output[str]
    """The read-only IAM policy (list and get under the prefix, decrypt with the key)."""
    reader_role_arns: dict[str, pulumi.Output[str]]
    """Reader name -> role ARN (annotate the service account with it for IRSA)."""
    weights_objects: list[aws.s3.BucketObjectv2]
    """Published weights files (package weights): what an LLM deployment waits for."""
    weights_reader_role_arns: dict[str, pulumi.Output[str]]
    """LLM deployment -> the role that reads its weights."""
    weights_writer_role_arns: dict[str, pulumi.Output[str]]
    """Hub import -> the role that writes its weights."""
    artifact_objects: dict[str, aws.s3.BucketObjectv2]
    """Extra object key -> its bucket object: what a consumer of the artifact (a
    SageMaker model) waits for with ``depends_on``."""

    def __init__(
        self, name: str, args: AwsModelStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        key = self._create_key()
        bucket = self._create_bucket(key)
        self.artifact_objects = {}
        objects = self._upload(bucket, key)
        policy = self._create_reader_policy(bucket, key)
        roles = {r: self._create_reader_role(r, trust, policy) for r, trust in args.readers.items()}
        self.weights_objects = self._upload_weights(bucket, key)
        self.weights_reader_role_arns = {
            r: self._create_weights_role(r, access, bucket, key, write=False).arn
            for r, access in sorted(args.weights_readers.items())
        }
        self.weights_writer_role_arns = {
            w: self._create_weights_role(w, access, bucket, key, write=True).arn
            for w, access in sorted(args.weights_writers.items())
        }

        self.bucket_name = bucket.bucket
        self.kms_key_arn = key.arn
        self.reader_policy_arn = policy.arn
        self.reader_role_arns = {r: role.arn for r, role in roles.items()}
        root = args.snapshot.root(args.prefix)
        self.repository_uri = pulumi.Output.all(bucket.bucket, *[o.key for o in objects]).apply(
            lambda values: f"s3://{values[0]}/{root}"
        )
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "repositoryUri": self.repository_uri,
                "kmsKeyArn": self.kms_key_arn,
                "readerPolicyArn": self.reader_policy_arn,
                "readerRoleArns": self.reader_role_arns,
            }
        )

    def _create_key(self) -> aws.kms.Key:
        key = aws.kms.Key(
            f"{self._name}-key",
            description=f"{self._name}: encrypts the Triton model repository",
            enable_key_rotation=True,
            deletion_window_in_days=self._args.kms_deletion_window_days,
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect),
        )
        aws.kms.Alias(
            f"{self._name}-key-alias",
            name=f"alias/{self._name}-model-repo",
            target_key_id=key.key_id,
            opts=self._child,
        )
        return key

    def _create_bucket(self, key: aws.kms.Key) -> aws.s3.Bucket:
        a = self._args
        bucket = aws.s3.Bucket(
            f"{self._name}-bucket",
            bucket=a.bucket_name,
            force_destroy=False,
            tags=dict(a.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=a.protect),
        )
        aws.s3.BucketOwnershipControls(
            f"{self._name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=self._child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{self._name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._child,
        )
        aws.s3.BucketVersioning(
            f"{self._name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=self._child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{self._name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=self._child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-old-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": a.noncurrent_version_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=self._child,
        )
        aws.s3.BucketPolicy(
            f"{self._name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(_tls_only_policy),
            opts=self._child,
        )
        return bucket

    def _upload(self, bucket: aws.s3.Bucket, key: aws.kms.Key) -> list[aws.s3.BucketObjectv2]:
        a = self._args
        objects = []
        for f in a.snapshot.files:
            object_key = a.snapshot.object_key(a.prefix, f)
            objects.append(
                aws.s3.BucketObjectv2(
                    f"{self._name}-{f.key}",
                    bucket=bucket.id,
                    key=object_key,
                    source=pulumi.FileAsset(f.path),
                    source_hash=f.sha256,
                    server_side_encryption="aws:kms",
                    kms_key_id=key.arn,
                    metadata={"sha256": f.sha256},
                    opts=self._child,
                )
            )
        for object_key, path in sorted(a.artifacts.items()):
            artifact = aws.s3.BucketObjectv2(
                f"{self._name}-{object_key}",
                bucket=bucket.id,
                key=object_key,
                source=pulumi.FileAsset(path),
                server_side_encryption="aws:kms",
                kms_key_id=key.arn,
                opts=self._child,
            )
            self.artifact_objects[object_key] = artifact
            objects.append(artifact)
        return objects

    def _upload_weights(
        self, bucket: aws.s3.Bucket, key: aws.kms.Key
    ) -> list[aws.s3.BucketObjectv2]:
        return [
            aws.s3.BucketObjectv2(
                f"{self._name}-{object_key}",
                bucket=bucket.id,
                key=object_key,
                source=pulumi.FileAsset(f.path),
                source_hash=f.sha256,
                server_side_encryption="aws:kms",
                kms_key_id=key.arn,
                metadata={"sha256": f.sha256},
                opts=self._child,
            )
            for object_key, f in sorted(self._args.weights_files.items())
        ]

    def _create_weights_role(
        self,
        who: str,
        access: WeightsAccess,
        bucket: aws.s3.Bucket,
        key: aws.kms.Key,
        *,
        write: bool,
    ) -> aws.iam.Role:
        kind = "writer" if write else "reader"
        role = aws.iam.Role(
            f"{self._name}-weights-{kind}-{who}",
            name=autoname_within(f"{self._name}-weights-{kind}-{who}", IAM_ROLE_NAME),
            description=f"{who}: {'write' if write else 'read'} {access.prefix}/ only",
            assume_role_policy=access.trust,
            tags=dict(self._args.tags),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-weights-{kind}-{who}",
            role=role.id,
            policy=pulumi.Output.all(bucket.arn, key.arn).apply(
                lambda v: json.dumps(_weights_policy(v[0], v[1], access.prefix, write=write))
            ),
            opts=self._child,
        )
        return role

    def _create_reader_policy(self, bucket: aws.s3.Bucket, key: aws.kms.Key) -> aws.iam.Policy:
        prefix = self._args.prefix.strip("/")
        return aws.iam.Policy(
            f"{self._name}-reader",
            description="Read-only access to the Triton model repository",
            policy=pulumi.Output.all(bucket.arn, key.arn).apply(
                lambda v: json.dumps(_reader_policy(v[0], v[1], prefix))
            ),
            tags=dict(self._args.tags),
            opts=self._child,
        )

    def _create_reader_role(
        self, reader: str, trust: pulumi.Input[str], policy: aws.iam.Policy
    ) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-reader-{reader}",
            name=autoname_within(f"{self._name}-reader-{reader}", IAM_ROLE_NAME),
            description=f"{reader}: read-only access to the model repository",
            assume_role_policy=trust,
            tags=dict(self._args.tags),
            opts=self._child,
        )
        aws.iam.RolePolicyAttachment(
            f"{self._name}-reader-{reader}",
            role=role.name,
            policy_arn=policy.arn,
            opts=self._child,
        )
        return role


def _tls_only_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _weights_policy(
    bucket_arn: str, key_arn: str, prefix: str, *, write: bool
) -> dict[str, object]:
    """List and read one weights prefix (a pod's copy), or write it (a hub import)."""
    objects = f"{bucket_arn}/{prefix}/*"
    if write:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteWeights",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject"],
                    "Resource": [objects],
                },
                {
                    "Sid": "EncryptWeights",
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": [key_arn],
                },
            ],
        }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListWeights",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
            },
            {
                "Sid": "ReadWeights",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [objects],
            },
            {
                "Sid": "DecryptWeights",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [key_arn],
            },
        ],
    }


def _reader_policy(bucket_arn: str, key_arn: str, prefix: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListRepository",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
            },
            {
                "Sid": "ReadRepository",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/{prefix}/*"],
            },
            {
                "Sid": "DecryptRepository",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [key_arn],
            },
        ],
    }
