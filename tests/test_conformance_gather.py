"""``make upstream-facts`` cannot reach its sources here; its parsers are checked offline,
on inputs shaped like the upstream files, against the facts the shared folder holds."""

from __future__ import annotations

import pytest

from tools.conformance import gather, upstream
from tools.conformance.base import MissingFacts

DOCKERFILE = """\
FROM golang:1.24-alpine AS build
WORKDIR /go/src/app
COPY . .
RUN go build -o /go/bin/aws-sigv4-proxy \\
    ./main.go

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /go/bin/aws-sigv4-proxy ./
ENTRYPOINT ["./aws-sigv4-proxy"]
"""


def test_the_final_stage_of_a_dockerfile_gives_user_base_and_entrypoint() -> None:
    facts = gather.dockerfile_facts(DOCKERFILE)
    assert facts == {
        "base": "scratch",
        "user": None,
        "runs_as": "uid 0 (root): no USER in the final stage",
        "entrypoint": ["./aws-sigv4-proxy"],
        "cmd": None,
        "stages": 2,
    }
    named = gather.dockerfile_facts("FROM debian:12\nUSER 65532:65532\nCMD serve --port 80\n")
    assert named["user"] == "65532:65532"
    assert named["cmd"] == ["/bin/sh", "-c", "serve --port 80"]


def test_the_parsed_facts_match_the_shared_folder_for_the_sigv4_proxy() -> None:
    try:
        folder = upstream.facts_folder()
    except MissingFacts:
        pytest.fail("the upstream facts folder is missing (make upstream-facts)")
    (entry,) = upstream.load_yaml(folder / "derived" / "images.yaml")["images"]
    parsed = gather.dockerfile_facts(DOCKERFILE)
    for key in ("base", "user", "entrypoint", "cmd", "stages", "runs_as"):
        assert parsed[key] == entry["facts"][key], key


def test_values_read_takes_every_chain_and_its_prefixes() -> None:
    template = """
{{- with .Values.controller.resources }}{{ toYaml . }}{{ end }}
{{ $.Values.serviceAccount.name }} {{ index .Values "podLabels" "app" }}
{{ .Release.Name }} {{ .Chart.AppVersion }}
"""
    facts = gather.values_read([template])
    assert facts["values_read"] == [
        "controller",
        "controller.resources",
        "podLabels",
        "podLabels.app",
        "serviceAccount",
        "serviceAccount.name",
    ]
    assert ".Release.Name" in facts["other_refs"]
    assert ".Chart.AppVersion" in facts["other_refs"]


def test_metric_names_from_docs_and_go_sources() -> None:
    go = """
var NodeClassesTotal = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
    Namespace: metrics.Namespace,
    Subsystem: "interruption",
    Name:      "received_messages_total",
}, []string{})
var Unresolvable = prometheus.GaugeOpts{Namespace: pkg.Other, Name: "x"}
"""
    names = gather.karpenter_metric_names([go], {"metrics.Namespace": "karpenter"})
    assert names == ["karpenter_interruption_received_messages_total"]
    table = (
        "| Metric name | Type |\n| ----- | ---- |\n"
        "| kube_node_labels | Gauge |\n| `kube_pod_info` | Gauge |\n"
    )
    assert gather.ksm_metric_names([table]) == ["kube_node_labels", "kube_pod_info"]
    doc = "Count: `nv_inference_request_success`, see nv_cache_num_hits_per_model and nv_gpu_"
    assert gather.triton_metric_names(doc) == [
        "nv_cache_num_hits_per_model",
        "nv_inference_request_success",
    ]


def test_version_maps_and_tags() -> None:
    build = "TRITON_VERSION_MAP = {'2.51.0': ('24.10', '24.10', '1.19.2')}"
    assert gather.triton_version_map(build) == {"2.51.0": "24.10"}
    assert gather.dcgm_tag("4.1.1-4.0.4-ubuntu22.04") == "4.1.1-4.0.4"
    karpenter = upstream.chart_of("oci://public.ecr.aws/karpenter/karpenter", None)
    assert karpenter is not None
    assert karpenter.tag_of("1.6.5") == "v1.6.5"
    assert karpenter.derived_of("1.6.5") == "karpenter-v1.6.5"
