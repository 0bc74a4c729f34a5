"""A small client for the Vertex AI REST API: the calls Pulumi's GCP provider lacks.

Terraform's Google provider, which Pulumi's GCP provider bridges, can create a
Vertex AI endpoint but cannot upload a model, deploy it to the endpoint, or set up
model monitoring (terraform-provider-google #15303, #23217, #25152). The dynamic
providers in :mod:`components.gcp.vertex_deploy` make those calls through this
client at ``pulumi up``: ``models.upload``, ``models.delete``,
``endpoints.deployModel``, ``endpoints.undeployModel``,
``endpoints.mutateDeployedModel``, ``endpoints.get`` and
``modelDeploymentMonitoringJobs`` create/get/delete. Long-running operations are
polled to completion; a failed operation raises :class:`VertexApiError` with the
service's code and message. Transient answers (429, 500, 502, 503, 504) are retried
with backoff.

Credentials: an OAuth access token from ``GOOGLE_OAUTH_ACCESS_TOKEN`` (the variable
the Google provider also honours), else the metadata server (on GCP), else
``gcloud auth print-access-token``. This runs inside the Pulumi engine's provider
process at deploy time, like any provider reading its credentials; the blueprint's
program itself never reads the environment.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

TRANSIENT = frozenset({429, 500, 502, 503, 504})
METADATA_TOKEN_URL = (
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"  # noqa: S105
)


class VertexApiError(Exception):
    """The Vertex AI API refused a call, or an operation ended in an error."""

    def __init__(self, what: str, code: int | str, message: str) -> None:
        self.what = what
        self.code = code
        self.message = message
        super().__init__(f"{what}: {code}: {message}")


def regional_endpoint(region: str) -> str:
    """The Vertex AI service endpoint of a region."""
    return f"https://{region}-aiplatform.googleapis.com"


def default_token() -> str:
    """An OAuth access token for the Vertex AI API (see the module docstring)."""
    token = os.environ.get("GOOGLE_OAUTH_ACCESS_TOKEN")
    if token:
        return token
    try:
        answer = requests.get(METADATA_TOKEN_URL, headers={"Metadata-Flavor": "Google"}, timeout=2)
        if answer.ok:
            return str(answer.json()["access_token"])
    except requests.RequestException:
        pass
    try:
        out = subprocess.run(
            ["gcloud", "auth", "print-access-token"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise VertexApiError(
            "credentials",
            "UNAUTHENTICATED",
            "no access token: set GOOGLE_OAUTH_ACCESS_TOKEN, run on GCP with a service "
            f"account, or log in with gcloud ({exc})",
        ) from None
    return out.stdout.strip()


@dataclass
class VertexApi:
    """Calls to one Vertex AI service endpoint (``https://<region>-aiplatform.googleapis.com``)."""

    base_url: str
    token: Callable[[], str] = default_token
    version: str = "v1"
    poll_seconds: float = 10.0
    timeout_seconds: float = 3600.0
    """How long an operation may run (deploying a model takes minutes)."""
    retries: int = 4
    session: requests.Session = field(default_factory=requests.Session)

    # -- plumbing ---------------------------------------------------------------

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One API call; retries transient answers; raises VertexApiError on a refusal."""
        url = f"{self.base_url.rstrip('/')}/{self.version}/{path.lstrip('/')}"
        delay = self.poll_seconds / 4 or 0.01
        for attempt in range(self.retries + 1):
            answer = self.session.request(
                method,
                url,
                json=body,
                headers={"Authorization": f"Bearer {self.token()}"},
                timeout=60,
            )
            if answer.status_code in TRANSIENT and attempt < self.retries:
                time.sleep(delay)
                delay *= 2
                continue
            if not answer.ok:
                raise _error(f"{method} {path}", answer)
            return answer.json() if answer.content else {}
        raise AssertionError("unreachable")  # pragma: no cover

    def wait(self, operation: Mapping[str, Any], what: str) -> dict[str, Any]:
        """Poll a long-running operation until done; its ``response``, or raise its error."""
        op = dict(operation)
        deadline = time.monotonic() + self.timeout_seconds
        while not op.get("done"):
            if time.monotonic() > deadline:
                raise VertexApiError(
                    what, "DEADLINE_EXCEEDED", f"operation {op.get('name')} still running"
                )
            time.sleep(self.poll_seconds)
            op = self.call("GET", str(op["name"]))
        if "error" in op:
            err = op["error"]
            raise VertexApiError(what, err.get("code", "UNKNOWN"), err.get("message", ""))
        return dict(op.get("response") or {})

    # -- models -----------------------------------------------------------------

    def upload_model(self, parent: str, model: Mapping[str, Any]) -> str:
        """Upload a model (container spec + artifacts); returns its resource name."""
        op = self.call("POST", f"{parent}/models:upload", {"model": model})
        return str(self.wait(op, f"upload model to {parent}")["model"])

    def get_model(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(name)

    def delete_model(self, name: str) -> None:
        try:
            op = self.call("DELETE", name)
        except VertexApiError as exc:
            if exc.code == 404:
                return  # already gone: deleting is idempotent
            raise
        self.wait(op, f"delete {name}")

    # -- endpoints --------------------------------------------------------------

    def get_endpoint(self, name: str) -> dict[str, Any]:
        return self.call("GET", name)

    def deployed_model(self, endpoint: str, deployed_model_id: str) -> dict[str, Any] | None:
        """The deployed model ``deployed_model_id`` of ``endpoint``, or None."""
        for dm in self.get_endpoint(endpoint).get("deployedModels", []):
            if str(dm.get("id")) == deployed_model_id:
                return dict(dm)
        return None

    def deploy_model(
        self, endpoint: str, deployed_model: Mapping[str, Any], traffic_percent: int = 100
    ) -> dict[str, Any]:
        """Deploy a model; it takes ``traffic_percent`` of the traffic, the rest keep theirs
        in proportion. Returns the deployed model as the endpoint reports it."""
        body: dict[str, Any] = {"deployedModel": dict(deployed_model)}
        current = self.get_endpoint(endpoint).get("trafficSplit") or {}
        body["trafficSplit"] = _split_with_new(current, traffic_percent)
        op = self.call("POST", f"{endpoint}:deployModel", body)
        response = self.wait(op, f"deploy {deployed_model.get('model')} to {endpoint}")
        dm_id = str(response.get("deployedModel", {}).get("id") or deployed_model.get("id"))
        found = self.deployed_model(endpoint, dm_id)
        if found is None:
            raise VertexApiError(
                f"deploy to {endpoint}", "NOT_FOUND", f"deployed model {dm_id} is not listed"
            )
        return found

    def mutate_deployed_model(
        self, endpoint: str, deployed_model: Mapping[str, Any], update_mask: list[str]
    ) -> dict[str, Any]:
        op = self.call(
            "POST",
            f"{endpoint}:mutateDeployedModel",
            {"deployedModel": dict(deployed_model), "updateMask": ",".join(update_mask)},
        )
        self.wait(op, f"update deployed model {deployed_model.get('id')} of {endpoint}")
        found = self.deployed_model(endpoint, str(deployed_model["id"]))
        if found is None:
            raise VertexApiError(
                f"update {endpoint}", "NOT_FOUND", f"deployed model {deployed_model['id']} is gone"
            )
        return found

    def undeploy_model(self, endpoint: str, deployed_model_id: str) -> None:
        """Undeploy; the remaining models keep their shares of the traffic, rescaled."""
        try:
            current = self.get_endpoint(endpoint).get("trafficSplit") or {}
        except VertexApiError as exc:
            if exc.code == 404:
                return  # the endpoint, and so its deployed models, are gone
            raise
        body: dict[str, Any] = {"deployedModelId": deployed_model_id}
        if deployed_model_id in current:
            body["trafficSplit"] = _split_without(current, deployed_model_id)
        try:
            op = self.call("POST", f"{endpoint}:undeployModel", body)
        except VertexApiError as exc:
            if exc.code == 404:
                return
            raise
        self.wait(op, f"undeploy {deployed_model_id} from {endpoint}")

    # -- model monitoring -------------------------------------------------------

    def create_monitoring_job(self, parent: str, job: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"{parent}/modelDeploymentMonitoringJobs", job)

    def get_monitoring_job(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(name)

    def delete_monitoring_job(self, name: str) -> None:
        self.delete_model(name)  # the same call shape: DELETE, an operation, 404 is fine

    def _get_or_none(self, name: str) -> dict[str, Any] | None:
        try:
            return self.call("GET", name)
        except VertexApiError as exc:
            if exc.code == 404:
                return None
            raise


def _error(what: str, answer: requests.Response) -> VertexApiError:
    try:
        err = answer.json().get("error", {})
        message = err.get("message") or answer.text
    except ValueError:
        message = answer.text
    return VertexApiError(what, answer.status_code, message.strip())


def _split_with_new(current: Mapping[str, int], percent: int) -> dict[str, int]:
    """A traffic split giving the new model (key "0") ``percent``, the others the rest."""
    if not current or percent >= 100:
        return {"0": 100, **{k: 0 for k in current}}
    rest = 100 - percent
    total = sum(current.values()) or 1
    split = {k: v * rest // total for k, v in current.items()}
    split["0"] = 100 - sum(split.values())
    return split


def _split_without(current: Mapping[str, int], removed: str) -> dict[str, int]:
    """The traffic split once ``removed`` is gone: its share spread over the others."""
    rest = {k: v for k, v in current.items() if k != removed}
    total = sum(rest.values())
    if not rest:
        return {}
    if total == 0:
        first = sorted(rest)[0]
        return {k: (100 if k == first else 0) for k in rest}
    split = {k: v * 100 // total for k, v in rest.items()}
    top = max(sorted(split), key=lambda k: split[k])
    split[top] += 100 - sum(split.values())
    return split
