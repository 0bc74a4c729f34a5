"""GCP model store: model_repo/ in a private, versioned, CMEK-encrypted GCS bucket.

Creates a Cloud KMS key ring and key (rotated every 90 days), grants the project's
Cloud Storage service agent use of the key, the bucket with uniform bucket-level
access, public access prevention enforced, versioning, the key as default
encryption, lifecycle rules that delete old versions, one object per repository
file under a content-addressed prefix (``<prefix>/<snapshot digest>/<model>/...``, the
weights a version's ``weights.json`` lists included, so each model folder is complete),
and a read-only Google service account for Triton pods bound through GKE Workload
Identity to the Kubernetes service account(s) named (no keys). GCS serves its
API over HTTPS only, so no transport policy is needed as on S3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from blueprint.limits import SERVICE_ACCOUNT_ID, fit_name
from blueprint.modelrepo.snapshot import RepositorySnapshot
from components.gcp.kms import GCS_AGENT, CmekArgs, CmekNames, cmek_key, service_agent

TYPE = "llm-inference:gcp:ModelStore"


@dataclass(frozen=True, kw_only=True)
class GcpModelStoreArgs:
    project: str
    location: str
    """Bucket and key location (the region of the clusters that read it)."""
    bucket_name: str
    snapshot: RepositorySnapshot
    prefix: str = "model_repo"
    noncurrent_version_days: int = 30
    extra_roots: Mapping[str, RepositorySnapshot] = field(default_factory=dict)
    """More repository roots: prefix -> snapshot (e.g. a Vertex AI endpoint's model,
    under a prefix that carries the model's content digest)."""
    reader_service_accounts: Sequence[str] = ()
    """Kubernetes service accounts allowed to read, as ``<namespace>/<name>`` (Triton
    and LLM pods; the reader sees the whole bucket: models and LLM weights)."""
    weights_writers: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Hub import -> (``<namespace>/<name>`` of its Kubernetes service account, the
    ``llm-weights/...`` prefix it may create objects under)."""
    weights_files: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Object name under ``llm-weights/`` -> (local file, sha256) to publish."""
    labels: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect the bucket and its key from deletion (Pulumi's protect)."""


class GcpModelStore(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    """The bucket's name."""
    repository_uri: pulumi.Output[str]
    """What Triton's --model-repository takes: gs://<bucket>/<prefix>/<digest>."""
    kms_key_id: pulumi.Output[str]
    """The customer-managed key that encrypts the objects."""
    reader_email: pulumi.Output[str]
    """Read-only Google service account; annotate Triton's KSA with it."""
    weights_writer_emails: dict[str, pulumi.Output[str]]
    """Hub import -> the Google service account that writes its prefix."""
    weights_objects: list[gcp.storage.BucketObject]
    """Published weights files (package weights)."""
    root_objects: dict[str, list[gcp.storage.BucketObject]]
    """Extra root prefix -> its bucket objects: what a consumer of that root (a Vertex
    AI model upload) waits for with ``depends_on``."""

    def __init__(
        self, name: str, args: GcpModelStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        key, grant = self._create_key()
        bucket = self._create_bucket(key, grant)
        self.root_objects = {}
        objects = self._upload(bucket)
        reader = self._create_reader(bucket, key)
        self.weights_objects = [
            gcp.storage.BucketObject(
                f"{self._name}-{obj}",
                bucket=bucket.name,
                name=obj,
                source=pulumi.FileAsset(path),
                metadata={"sha256": sha},
                opts=self._child,
            )
            for obj, (path, sha) in sorted(args.weights_files.items())
        ]
        self.weights_writer_emails = {
            w: self._create_writer(w, ksa, prefix, bucket).email
            for w, (ksa, prefix) in sorted(args.weights_writers.items())
        }

        self.bucket_name = bucket.name
        self.kms_key_id = key.id
        self.reader_email = reader.email
        root = args.snapshot.root(args.prefix)
        self.repository_uri = pulumi.Output.all(bucket.name, *[o.name for o in objects]).apply(
            lambda values: f"gs://{values[0]}/{root}"
        )
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "repositoryUri": self.repository_uri,
                "kmsKeyId": self.kms_key_id,
                "readerEmail": self.reader_email,
            }
        )

    def _create_key(self) -> tuple[gcp.kms.CryptoKey, gcp.kms.CryptoKeyIAMMember]:
        a = self._args
        cmek = cmek_key(
            CmekNames(
                ring_resource=f"{self._name}-keyring",
                ring=f"{self._name}-model-repo",
                key_resource=f"{self._name}-key",
                key="model-repo",
                grant_resource=f"{self._name}-key-gcs-agent",
            ),
            CmekArgs(
                project=a.project,
                location=a.location,
                agent=service_agent(a.project, GCS_AGENT),
                labels=a.labels,
                protect=a.protect,
            ),
            parent=self,
        )
        return cmek.key, cmek.grant

    def _create_bucket(
        self, key: gcp.kms.CryptoKey, grant: gcp.kms.CryptoKeyIAMMember
    ) -> gcp.storage.Bucket:
        a = self._args
        return gcp.storage.Bucket(
            f"{self._name}-bucket",
            name=a.bucket_name,
            project=a.project,
            location=a.location,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            encryption={"default_kms_key_name": key.id},
            force_destroy=False,
            lifecycle_rules=[
                {
                    "action": {"type": "Delete"},
                    "condition": {"days_since_noncurrent_time": a.noncurrent_version_days},
                },
                {
                    "action": {"type": "Delete"},
                    "condition": {"num_newer_versions": 3, "with_state": "ARCHIVED"},
                },
            ],
            labels=dict(a.labels),
            # The storage agent must be able to use the key before the bucket names it.
            opts=pulumi.ResourceOptions.merge(
                self._child, pulumi.ResourceOptions(depends_on=[grant], protect=a.protect)
            ),
        )

    def _upload(self, bucket: gcp.storage.Bucket) -> list[gcp.storage.BucketObject]:
        a = self._args
        objects = [
            gcp.storage.BucketObject(
                f"{self._name}-{f.key}",
                bucket=bucket.name,
                name=a.snapshot.object_key(a.prefix, f),
                source=pulumi.FileAsset(f.path),
                metadata={"sha256": f.sha256},
                opts=self._child,
            )
            for f in a.snapshot.files
        ]
        for root, snap in sorted(a.extra_roots.items()):
            self.root_objects[root] = [
                gcp.storage.BucketObject(
                    f"{self._name}-{root}/{f.key}",
                    bucket=bucket.name,
                    name=f"{root.strip('/')}/{f.key}",
                    source=pulumi.FileAsset(f.path),
                    metadata={"sha256": f.sha256},
                    opts=self._child,
                )
                for f in snap.files
            ]
            objects += self.root_objects[root]
        return objects

    def _create_writer(
        self, who: str, ksa: str, prefix: str, bucket: gcp.storage.Bucket
    ) -> gcp.serviceaccount.Account:
        """Create objects under one weights prefix only (no read, no delete); GCS's
        service agent encrypts them with the bucket's key."""
        a = self._args
        writer = gcp.serviceaccount.Account(
            f"{self._name}-weights-writer-{who}",
            account_id=fit_name(f"weights-import-{who}", SERVICE_ACCOUNT_ID),
            display_name=f"hub import {who}: write {prefix}/ only",
            project=a.project,
            opts=self._child,
        )
        gcp.storage.BucketIAMMember(
            f"{self._name}-weights-writer-{who}",
            bucket=bucket.name,
            role="roles/storage.objectCreator",
            member=writer.email.apply(lambda e: f"serviceAccount:{e}"),
            condition={
                "title": f"only {prefix}",
                "expression": bucket.name.apply(
                    lambda b: (
                        f'resource.name.startsWith("projects/_/buckets/{b}/objects/{prefix}/")'
                    )
                ),
            },
            opts=self._child,
        )
        namespace, _, sa = ksa.partition("/")
        gcp.serviceaccount.IAMMember(
            f"{self._name}-weights-writer-wi-{who}",
            service_account_id=writer.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{a.project}.svc.id.goog[{namespace}/{sa}]",
            opts=self._child,
        )
        return writer

    def _create_reader(
        self, bucket: gcp.storage.Bucket, key: gcp.kms.CryptoKey
    ) -> gcp.serviceaccount.Account:
        a = self._args
        reader = gcp.serviceaccount.Account(
            f"{self._name}-reader",
            account_id=fit_name(f"{self._name}-reader", SERVICE_ACCOUNT_ID),
            display_name="Triton pods: read-only model repository",
            project=a.project,
            opts=self._child,
        )
        member = reader.email.apply(lambda e: f"serviceAccount:{e}")
        gcp.storage.BucketIAMMember(
            f"{self._name}-reader-objects",
            bucket=bucket.name,
            role="roles/storage.objectViewer",
            member=member,
            opts=self._child,
        )
        gcp.kms.CryptoKeyIAMMember(
            f"{self._name}-reader-key",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyDecrypter",
            member=member,
            opts=self._child,
        )
        for ksa in a.reader_service_accounts:
            namespace, _, sa = ksa.partition("/")
            gcp.serviceaccount.IAMMember(
                f"{self._name}-wi-{namespace}-{sa}",
                service_account_id=reader.name,
                role="roles/iam.workloadIdentityUser",
                member=f"serviceAccount:{a.project}.svc.id.goog[{namespace}/{sa}]",
                opts=self._child,
            )
        return reader
