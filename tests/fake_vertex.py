"""A fake of the Vertex AI REST surface the dynamic providers call, on a local HTTP server.

It implements, with the real paths and JSON shapes: ``models:upload``, model get and
delete, endpoint get, ``:deployModel``, ``:undeployModel``, ``:mutateDeployedModel``,
long-running operations that finish after a few polls (or end in an error), and
``modelDeploymentMonitoringJobs`` create/get/delete with Vertex's one-job-per-endpoint
rule. Faults are injected per route: an HTTP status for the next N calls, or an
operation that ends with an error.
"""

# A request router answers each route with its own return: that is its shape.
# ruff: noqa: PLR0911, PLR0912

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import googleapiclient


def _mutable_fields(api_version: str = "v1") -> frozenset[str]:
    """The update-mask paths ``endpoints.mutateDeployedModel`` accepts, from Google's own
    discovery document (google-api-python-client's aiplatform.v1.json).

    The request's ``deployedModel`` documents its mutable fields as a list such as
    "* `min_replica_count` in either DedicatedResources or AutomaticResources", with
    "(v1beta1 only)" on those the v1 API lacks; a field named without a message is
    wherever DeployedModel or its resources hold it. Paths come in both spellings a
    FieldMask takes (snake_case and lowerCamelCase).
    """
    doc = json.loads(
        (
            Path(googleapiclient.__file__).parent
            / "discovery_cache"
            / "documents"
            / "aiplatform.v1.json"
        ).read_text()
    )
    schemas = doc["schemas"]
    request = schemas["GoogleCloudAiplatformV1MutateDeployedModelRequest"]
    text = request["properties"]["deployedModel"]["description"]
    containers = {
        "DedicatedResources": "dedicatedResources",
        "AutomaticResources": "automaticResources",
    }
    deployed = schemas["GoogleCloudAiplatformV1DeployedModel"]["properties"]
    fields: set[str] = set()
    for item in text.split("* ")[1:]:
        if "only)" in item and f"({api_version} only)" not in item:
            continue
        name = re.search(r"`?([a-z_]+)`?", item).group(1)  # type: ignore[union-attr]
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
        where = [containers[c] for c in containers if c in item]
        if not where:
            where = [""] if camel in deployed else []
            where += [
                prop
                for c, prop in containers.items()
                if camel in schemas[f"GoogleCloudAiplatformV1{c}"]["properties"]
            ]
        for prefix in where:
            fields.add(f"{prefix}.{camel}" if prefix else camel)
            snake_prefix = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), prefix)
            fields.add(f"{snake_prefix}.{name}" if prefix else name)
    return frozenset(fields)


MUTABLE_FIELDS = _mutable_fields()
"""Update-mask paths the real ``mutateDeployedModel`` (v1) accepts; any other is refused."""

TOKEN = "test-token"
PROJECT = "acme-llm-prod"
REGION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
ENDPOINT = f"{PARENT}/endpoints/1234567890"

_STATUS = {
    400: "FAILED_PRECONDITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
}


@dataclass
class Operation:
    polls_left: int
    on_done: Callable[[], dict[str, Any]]
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


@dataclass
class FakeVertex:
    polls_per_operation: int = 2
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    log: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    faults: dict[str, list[int]] = field(default_factory=dict)
    """route key ("POST :deployModel") -> statuses to answer, one per call, before normal."""
    operation_errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    """route key -> the error its operation ends with."""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(100))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.endpoints[ENDPOINT] = {"name": ENDPOINT, "deployedModels": [], "trafficSplit": {}}

    # -- helpers ------------------------------------------------------------------

    def _operation(self, route: str, on_done: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        name = f"{PARENT}/operations/{next(self._ids)}"
        self.operations[name] = Operation(
            self.polls_per_operation, on_done, error=self.operation_errors.pop(route, None)
        )
        return {"name": name, "done": False}

    def handle(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        version, _, rest = path.lstrip("/").partition("/")
        if version not in {"v1", "v1beta1"}:
            return 404, _err(404, f"no API version in {path}")
        action = rest.rsplit(":", 1)[1] if ":" in rest.rsplit("/", 1)[-1] else ""
        resource = rest.rsplit(":", 1)[0] if action else rest
        route = f"{method} :{action}" if action else f"{method} {_kind(resource)}"
        self.log.append((method, rest, body))
        pending = self.faults.get(route)
        if pending:
            status = pending.pop(0)
            return status, _err(status, f"injected fault on {route}")
        return self._route(method, resource, action, route, body or {})

    def _route(
        self, method: str, resource: str, action: str, route: str, body: dict[str, Any]
    ) -> tuple[int, Any]:
        if action == "upload" and method == "POST":
            name = f"{PARENT}/models/{next(self._ids)}"

            def uploaded() -> dict[str, Any]:
                self.models[name] = {**body["model"], "name": name}
                return {"model": name, "modelVersionId": "1"}

            return 200, self._operation(route, uploaded)
        if re.fullmatch(r".*/operations/\d+", resource) and method == "GET":
            op = self.operations.get(resource)
            if op is None:
                return 404, _err(404, f"operation {resource} not found")
            op.polls_left -= 1
            if op.polls_left > 0:
                return 200, {"name": resource, "done": False}
            if op.error is not None:
                return 200, {"name": resource, "done": True, "error": op.error}
            if op.result is None:
                op.result = op.on_done()
            return 200, {"name": resource, "done": True, "response": op.result}
        if re.fullmatch(r".*/models/\d+", resource):
            return self._model(method, resource, route)
        if re.fullmatch(r".*/endpoints/\d+", resource):
            return self._endpoint(method, resource, action, route, body)
        if resource.endswith("/modelDeploymentMonitoringJobs") and method == "POST":
            if any(j["endpoint"] == body["endpoint"] for j in self.jobs.values()):
                return 409, _err(409, f"a monitoring job already exists for {body['endpoint']}")
            name = f"{PARENT}/modelDeploymentMonitoringJobs/{next(self._ids)}"
            self.jobs[name] = {**body, "name": name, "state": "JOB_STATE_PENDING"}
            return 200, self.jobs[name]
        if re.fullmatch(r".*/modelDeploymentMonitoringJobs/\d+", resource):
            if resource not in self.jobs:
                return 404, _err(404, f"{resource} not found")
            if method == "GET":
                return 200, self.jobs[resource]
            if method == "DELETE":
                return 200, self._operation(route, lambda: self.jobs.pop(resource) and {})
        return 404, _err(404, f"no route for {method} {resource}:{action}")

    def _model(self, method: str, name: str, route: str) -> tuple[int, Any]:
        if name not in self.models:
            return 404, _err(404, f"model {name} not found")
        if method == "GET":
            return 200, self.models[name]
        if method == "DELETE":
            users = [
                ep
                for ep in self.endpoints.values()
                for dm in ep["deployedModels"]
                if dm["model"] == name
            ]
            if users:
                return 400, _err(400, f"model {name} is deployed to {users[0]['name']}")

            def deleted() -> dict[str, Any]:
                self.models.pop(name, None)
                return {}

            return 200, self._operation(route, deleted)
        return 405, _err(400, "method not allowed")

    def _endpoint(
        self, method: str, name: str, action: str, route: str, body: dict[str, Any]
    ) -> tuple[int, Any]:
        ep = self.endpoints.get(name)
        if ep is None:
            return 404, _err(404, f"endpoint {name} not found")
        if method == "GET" and not action:
            return 200, ep
        if action == "deployModel":
            dm = dict(body["deployedModel"])
            if dm["model"] not in self.models:
                return 400, _err(400, f"model {dm['model']} does not exist")
            res = dm.get("dedicatedResources", {})
            if res.get("minReplicaCount", 1) < 1 and "scaleToZeroSpec" not in res:
                return 400, _err(400, "minReplicaCount must be at least 1")
            split = dict(body.get("trafficSplit") or {})
            if sum(split.values()) != 100:
                return 400, _err(400, f"traffic split {split} does not add up to 100")

            def deployed() -> dict[str, Any]:
                dm_id = str(dm.get("id") or next(self._ids))
                dm["id"] = dm_id
                attachment = f"projects/tenant/regions/{REGION}/serviceAttachments/sa-{dm_id}"
                dm["privateEndpoints"] = {"serviceAttachment": attachment}
                ep["deployedModels"].append(dm)
                ep["trafficSplit"] = {(dm_id if k == "0" else k): v for k, v in split.items()}
                return {"deployedModel": {"id": dm_id}}

            return 200, self._operation(route, deployed)
        if action == "undeployModel":
            dm_id = body["deployedModelId"]
            if not any(d["id"] == dm_id for d in ep["deployedModels"]):
                return 404, _err(404, f"deployed model {dm_id} not found")
            if ep["trafficSplit"].get(dm_id) and "trafficSplit" not in body:
                return 400, _err(400, f"deployed model {dm_id} still receives traffic")

            def undeployed() -> dict[str, Any]:
                ep["deployedModels"] = [d for d in ep["deployedModels"] if d["id"] != dm_id]
                split = body.get("trafficSplit")
                ep["trafficSplit"] = (
                    dict(split)
                    if split is not None
                    else {k: v for k, v in ep["trafficSplit"].items() if k != dm_id}
                )
                return {}

            return 200, self._operation(route, undeployed)
        if action == "mutateDeployedModel":
            change = body["deployedModel"]
            mask = [p.strip() for p in body.get("updateMask", "").split(",") if p.strip()]
            refused = sorted(set(mask) - MUTABLE_FIELDS)
            if not mask or refused:
                return 400, _err(
                    400,
                    f"updateMask {refused or mask}: mutateDeployedModel updates only "
                    f"{sorted(f for f in MUTABLE_FIELDS if '_' not in f)}",
                )
            target = next((d for d in ep["deployedModels"] if d["id"] == change["id"]), None)
            if target is None:
                return 404, _err(404, f"deployed model {change['id']} not found")

            def mutated() -> dict[str, Any]:
                for path in mask:
                    head, _, leaf = path.partition(".")
                    if leaf:
                        target.setdefault(head, {})[leaf] = change[head][leaf]
                    else:
                        target[head] = change[head]
                return {"deployedModel": target}

            return 200, self._operation(route, mutated)
        return 404, _err(404, f"no action {action}")


def _kind(resource: str) -> str:
    parts = resource.split("/")
    return parts[-2] if len(parts) >= 2 and parts[-1].isdigit() else parts[-1]


def _err(status: int, message: str) -> dict[str, Any]:
    return {
        "error": {"code": status, "message": message, "status": _STATUS.get(status, "UNAVAILABLE")}
    }


@contextmanager
def serve(fake: FakeVertex) -> Iterator[str]:
    """Run ``fake`` on a free loopback port; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, _err(401, "missing or wrong bearer token"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            with fake.lock:
                status, payload = fake.handle(method, self.path, body)
            self._send(status, payload)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_DELETE(self) -> None:
            self._answer("DELETE")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
