"""The inference API the gateway exposes, and nothing else of the servers behind it.

Triton (KServe v2 protocol) and vLLM (OpenAI-compatible server) each serve more than
inference: Triton's model repository API (load, unload), statistics, model metadata,
trace and log settings, shared memory; vLLM's tokenizer, LoRA and admin endpoints;
both ``/metrics``. The gateway routes only the paths below; every other path has no
route, so the gateway answers 404 and the request never reaches a server.

The route (components/k8s/routing.py) matches :data:`INFERENCE_PATH_REGEX`, built from
:data:`INFERENCE_ENDPOINTS`; tests match lists of admin paths against the rendered
routes with Gateway API's matching semantics.
"""

from __future__ import annotations

import re
from typing import Final

MODEL_NAME: Final = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
"""A Triton model's name in a path (the repository's folder names: ``blueprint.schema.ModelName``).
It cannot be ``.`` or ``..``, so a path that only normalizes onto another endpoint never matches."""
MODEL_VERSION: Final = r"[0-9]{1,10}"

TRITON_ACTIONS: Final = ("infer", "generate", "generate_stream")
"""KServe v2 inference (``infer``) and Triton's generate extension (``generate``,
``generate_stream``), at ``/v2/models/<model>[/versions/<version>]/<action>``."""

OPENAI_PATHS: Final = ("/v1/chat/completions", "/v1/completions", "/v1/models")
"""vLLM's OpenAI-compatible endpoints the platform serves (``/v1/models`` lists the
served model names, which OpenAI clients ask for)."""

INFERENCE_ENDPOINTS: Final = (
    *(f"/v2/models/{{model}}[/versions/{{version}}]/{a}" for a in TRITON_ACTIONS),
    *OPENAI_PATHS,
)
"""The exposed endpoints in words (docs and messages)."""

INFERENCE_PATH_REGEX: Final = (
    rf"/v2/models/{MODEL_NAME}(/versions/{MODEL_VERSION})?/({'|'.join(TRITON_ACTIONS)})"
    rf"|/v1/({'|'.join(re.escape(p.removeprefix('/v1/')) for p in OPENAI_PATHS)})"
)
"""One RE2 pattern for every exposed path. Envoy matches a route's regex against the whole
path (without the query string), so it needs no anchors; Python's ``re.fullmatch`` reads
it the same way."""
