"""Facts about the Triton Inference Server the blueprint runs: its ports and health endpoints.

Kubernetes probes, the gateway's backend checks, Route 53 health checks, Vertex AI's
health route, the policy messages and the local launcher all use these, so a port or
a path is written once.
"""

from __future__ import annotations

from typing import Final

HTTP_PORT: Final = 8000
"""HTTP/REST (KServe v2 protocol)."""
GRPC_PORT: Final = 8001
METRICS_PORT: Final = 8002
"""Prometheus metrics at ``/metrics``."""

READY_PATH: Final = "/v2/health/ready"
"""200 once the server and every loaded model are ready (readiness, health checks)."""
LIVE_PATH: Final = "/v2/health/live"
"""200 while the server process runs (liveness)."""
