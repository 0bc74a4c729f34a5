"""Values and lengths the cloud APIs accept, where the program derives inputs from config.

The provider APIs take some inputs only from a fixed set or within a length: a value
outside them passes the offline preview (the mocks echo it back) and fails the real
``pulumi up``. The program derives such inputs through this table, and
``tools/conformance/cloud.py`` holds every plan to the providers' own service models
(botocore's, Google's discovery documents), which also checks that this table agrees
with them.

Sources: botocore 1.44.5 ``logs`` service model (``PutRetentionPolicy`` ``Days``, whose
documentation lists the values), AWS IAM, S3, SQS and EKS quotas pages, GKE and IAM
(service account) documentation; read 2026-12-03.
"""

from __future__ import annotations

import hashlib
from typing import Final

CLOUDWATCH_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
"""The only values CloudWatch Logs accepts as a log group's retention (days)."""


def cloudwatch_retention_days(days: int) -> int:
    """The shortest retention CloudWatch Logs accepts that keeps logs at least ``days``.

    ``monitoring.retentionDays`` is Prometheus's retention (any number of days); the
    stack's log groups keep their logs at least as long: 15 -> 30.
    """
    for allowed in CLOUDWATCH_RETENTION_DAYS:
        if allowed >= days:
            return allowed
    return CLOUDWATCH_RETENTION_DAYS[-1]


AUTONAME_SUFFIX: Final = 8
"""Pulumi auto-naming appends ``-`` and 7 random characters to the resource's name."""

IAM_ROLE_NAME: Final = 64
EVENT_RULE_NAME: Final = 64
"""EventBridge rule names: at most 64 of [.-_A-Za-z0-9]."""
SERVICE_ACCOUNT_ID: Final = 30
"""GCP service account ids: 6-30 characters, a lowercase letter first."""
GKE_CLUSTER_NAME: Final = 40
"""GKE cluster names: at most 40 characters (lowercase RFC 1035)."""


def fit_name(name: str, limit: int) -> str:
    """``name`` itself when it fits ``limit``, else its head and a digest of the whole.

    Deterministic (the same config gives the same name on every run) and distinct for
    distinct long names; a name that already fits never changes, so no existing
    resource is renamed.
    """
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - len(digest) - 1].rstrip('-')}-{digest}"


def autoname_within(resource_name: str, limit: int) -> str | None:
    """The explicit name a resource needs so that its cloud name fits ``limit``.

    None while Pulumi's auto-name (``resource_name`` plus 8 characters) fits: the
    resource keeps the name it has. Past that, a fitted name without the random part
    (the provider would refuse or cut the auto-name).
    """
    if len(resource_name) + AUTONAME_SUFFIX <= limit:
        return None
    return fit_name(resource_name, limit)
