"""``make upstream-facts``: gather the upstream facts ``make conformance`` reads, from the
public sources, into a folder of the layout ``/work/shared/upstream`` has (its SOURCES.md).

NOT RUN HERE: the build machine reaches no chart repository and no GitHub. This script is
written against the documented interfaces (Helm repository ``index.yaml`` and chart
tarballs, ``git ls-remote``, raw.githubusercontent.com files at a tag, the GitHub REST
"git trees" and "commits" endpoints) and its parsers are tested offline
(tests/test_conformance_gather.py); run it where the internet is reachable, review the
diff of the folder, then point ``UPSTREAM_FACTS`` at it.

What it gathers is what the plans pin (it records them first, like ``make conformance``):

- per chart release: the repository's tags (``tags.txt``; for a chart repository served
  over HTTPS, the versions its ``index.yaml`` lists are added as tags of the chart's
  family, since that index is what ``helm pull`` reads), the chart's ``Chart.yaml``,
  ``values.yaml`` (``values.tmpl.yaml`` for Envoy Gateway), ``values.schema.json`` when
  shipped, its CRDs, the same for the subcharts its values are judged against, and
  ``derived/<chart>-<version>.values-read.json`` (the ``.Values`` chains of its templates);
- CRDs of API groups the cloud installs (:data:`tools.conformance.upstream.MANAGED_CRDS`);
- ``derived/images.yaml``: USER, base and entrypoint of the final stage of the Dockerfile
  of every image listed in :data:`IMAGE_SOURCES`;
- metric lists: Triton's (``docs/user_guide/metrics.md`` at the release of the pinned NGC
  container, found through ``build.py``'s version map), kube-state-metrics' (its
  ``docs/metrics``), Karpenter's (``pkg/**/metrics.go``), DCGM's collectors file
  (``etc/dcp-metrics-included.csv`` at the dcgm-exporter version the GPU Operator pins).

Files are written byte for byte; derived records say what they were derived from
(``generated``, ``repo``, ``ref``, ``commit``, ``date``, ``path``, ``sources``, ``facts``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.conformance import upstream
from tools.conformance.images import containers, parse_image
from tools.conformance.plans import integral, kubernetes_objects, manifest, releases
from tools.preview.recorder import Plan

GITHUB = "https://github.com"
RAW = "https://raw.githubusercontent.com"
API = "https://api.github.com"
TIMEOUT_S = 60

KEPT = frozenset({"Chart.yaml", "values.yaml", "values.tmpl.yaml", "values.schema.json"})
"""Chart files copied byte for byte (templates are kept only as derived facts)."""

IMAGE_SOURCES: Mapping[str, tuple[str, str, str]] = {
    "public.ecr.aws/aws-observability/aws-sigv4-proxy": (
        "awslabs/aws-sigv4-proxy",
        "v{tag}",
        "Dockerfile",
    ),
}
"""Image repository -> (GitHub repo, git tag of an image tag, Dockerfile path)."""


# ---------------------------------------------------------------------------
# Parsers (pure: tested offline)

_VALUES_CHAIN = re.compile(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)")
_INDEX_VALUES = re.compile(r"index\s+\$?\.Values((?:\s+\"[^\"]+\")+)")
_OTHER_REF = re.compile(r"(?<![\w$\]])(\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)+)")


def values_read(templates: Iterable[str]) -> dict[str, list[str]]:
    """The ``.Values`` chains templates use, every prefix included, and other references."""
    chains: set[str] = set()
    others: set[str] = set()
    for text in templates:
        for match in _VALUES_CHAIN.finditer(text):
            chains.add(match.group(1).lstrip("."))
        for match in _INDEX_VALUES.finditer(text):
            chains.add(".".join(re.findall(r"\"([^\"]+)\"", match.group(1))))
        for match in _OTHER_REF.finditer(text):
            if not match.group(1).startswith(".Values"):
                others.add(match.group(1))
    with_prefixes = {
        ".".join(c.split(".")[:n]) for c in chains for n in range(1, len(c.split(".")) + 1)
    }
    return {"values_read": sorted(with_prefixes), "other_refs": sorted(others)}


def dockerfile_facts(text: str) -> dict[str, Any]:
    """Base, USER, ENTRYPOINT and CMD of a Dockerfile's final stage."""
    lines = _logical_lines(text)
    stages = [i for i, (op, _) in enumerate(lines) if op == "FROM"]
    final = lines[stages[-1] :] if stages else lines
    base = final[0][1].split()[0] if final and final[0][0] == "FROM" else ""
    user: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    for op, arg in final:
        if op == "USER":
            user = arg.strip()
        elif op == "ENTRYPOINT":
            entrypoint = _exec_form(arg)
        elif op == "CMD":
            cmd = _exec_form(arg)
    root = user is None or user.split(":", 1)[0] in ("root", "0")
    return {
        "base": base,
        "user": user,
        "runs_as": "uid 0 (root): no USER in the final stage"
        if user is None
        else ("uid 0 (root)" if root else f"USER {user}"),
        "entrypoint": entrypoint,
        "cmd": cmd,
        "stages": len(stages),
    }


def _logical_lines(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not buffer and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        op, _, arg = buffer.strip().partition(" ")
        out.append((op.upper(), arg.strip()))
        buffer = ""
    return out


def _exec_form(arg: str) -> list[str]:
    try:
        parsed = json.loads(arg)
    except json.JSONDecodeError:
        return ["/bin/sh", "-c", arg]
    return [str(a) for a in parsed] if isinstance(parsed, list) else [str(parsed)]


_GO_OPTS = re.compile(r"Opts\s*\{(?P<body>[^{}]*)\}", re.S)
_GO_FIELD = re.compile(r"\b(Namespace|Subsystem|Name)\s*:\s*(?P<value>\"[^\"]*\"|[\w.]+)")


def karpenter_metric_names(sources: Iterable[str], constants: Mapping[str, str]) -> list[str]:
    """``<namespace>_<subsystem>_<name>`` of every ``prometheus.*Opts{...}`` literal.

    ``constants`` resolves identifiers (``metrics.Namespace`` -> ``karpenter``); a field
    that does not resolve leaves its metric out rather than guessing it.
    """
    names: set[str] = set()
    for text in sources:
        for match in _GO_OPTS.finditer(text):
            fields: dict[str, str | None] = {}
            for f in _GO_FIELD.finditer(match.group("body")):
                value = f.group("value")
                fields[f.group(1)] = (
                    value.strip('"') if value.startswith('"') else constants.get(value)
                )
            if "Name" not in fields or any(v is None for v in fields.values()):
                continue
            parts = [fields.get("Namespace"), fields.get("Subsystem"), fields["Name"]]
            names.add("_".join(p for p in parts if p))
    return sorted(names)


def ksm_metric_names(docs: Iterable[str]) -> list[str]:
    """Metric names in the first column of kube-state-metrics' docs tables."""
    names: set[str] = set()
    for text in docs:
        names |= set(re.findall(r"^\|\s*`?(kube_[a-z0-9_]+)`?\s*\|", text, re.M))
    return sorted(names)


def triton_metric_names(doc: str) -> list[str]:
    return sorted(set(re.findall(r"\b(nv_[a-z0-9_]*[a-z0-9])\b", doc)))


def triton_version_map(build_py: str) -> dict[str, str]:
    """Triton release -> NGC container version, from build.py's TRITON_VERSION_MAP."""
    out = {}
    for triton, container in re.findall(
        r"[\"'](\d+\.\d+\.\d+(?:dev)?)[\"']\s*:\s*\(\s*[\"'](\d+\.\d+)[^\"']*[\"']", build_py
    ):
        out[triton] = container
    return out


def dcgm_tag(image_version: str) -> str:
    """The dcgm-exporter git tag of an image version (``4.1.1-4.0.4-ubuntu22.04``)."""
    return re.sub(r"-(ubuntu|ubi|distroless)[0-9.]*$", "", image_version)


# ---------------------------------------------------------------------------
# Fetching (network)


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "llm-inference-blueprint"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (https only)
        data: bytes = response.read()
    return data


def raw_file(repo: str, ref: str, path: str) -> bytes:
    return fetch(f"{RAW}/{repo}/{urllib.parse.quote(ref)}/{path}")


def git_tags(repo: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-remote", "--tags", "--refs", f"{GITHUB}/{repo}.git"],
        check=True,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    ).stdout
    return sorted(
        line.split("refs/tags/", 1)[1] for line in out.splitlines() if "refs/tags/" in line
    )


def git_head(repo: str) -> tuple[str, str]:
    """The default branch's head commit and its date."""
    out = subprocess.run(
        ["git", "ls-remote", f"{GITHUB}/{repo}.git", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    ).stdout
    commit = out.split()[0]
    info = json.loads(fetch(f"{API}/repos/{repo}/commits/{commit}"))
    return commit, str(info["commit"]["committer"]["date"])[:10]


def tag_commit(repo: str, ref: str) -> tuple[str, str]:
    info = json.loads(fetch(f"{API}/repos/{repo}/commits/{urllib.parse.quote(ref)}"))
    return str(info["sha"]), str(info["commit"]["committer"]["date"])[:10]


def tree(repo: str, ref: str, folder: str) -> list[str]:
    """Every file path under ``folder`` at ``ref`` (GitHub git trees API, recursive)."""
    info = json.loads(fetch(f"{API}/repos/{repo}/git/trees/{urllib.parse.quote(ref)}?recursive=1"))
    prefix = folder.rstrip("/") + "/"
    return sorted(
        e["path"] for e in info["tree"] if e["type"] == "blob" and e["path"].startswith(prefix)
    )


# ---------------------------------------------------------------------------
# Writing the layout


@dataclass
class Gatherer:
    out: Path
    today: str = field(default_factory=lambda: dt.date.today().isoformat())
    tag_families: dict[str, set[str]] = field(default_factory=dict)
    extra_tags: dict[str, set[str]] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)

    def vendor(self, repo: str, ref: str, path: str) -> bytes:
        data = raw_file(repo, ref, path)
        self.write(upstream.repo_dir(self.out, repo) / ref / path, data)
        return data

    @staticmethod
    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def derived(
        self,
        stem: str,
        *,
        kind: str,
        repo: str,
        ref: str,
        path: str,
        sources: list[str],
        facts: Any,
    ) -> None:
        commit, date = tag_commit(repo, ref)
        record = {
            "generated": f"derived from {repo}@{ref}:{path} on {self.today} "
            "(generated: do not edit, re-run it)",
            "kind": kind,
            "repo": repo,
            "ref": ref,
            "commit": commit,
            "date": date,
            "path": path,
            "sources": sources,
            "facts": facts,
        }
        self.write(
            self.out / "derived" / f"{stem}.json", (json.dumps(record, indent=1) + "\n").encode()
        )

    # -- charts

    def chart(self, chart: upstream.Chart, version: str) -> None:
        self.tag_families.setdefault(chart.repo, set()).add(upstream.family(chart))
        ref = chart.tag_of(version)
        if chart.source.startswith("https://"):
            files, origin = self._chart_from_index(chart, version)
        else:
            paths = tree(chart.repo, ref, chart.path)
            files = {p[len(chart.path) + 1 :]: raw_file(chart.repo, ref, p) for p in paths}
            origin = f"{chart.repo}@{ref}"
        if files:
            self._write_chart_files(chart, version, files, origin)
        for crd in chart.crds:
            self._vendor_path(chart.repo, ref, crd)

    def _chart_from_index(
        self, chart: upstream.Chart, version: str
    ) -> tuple[dict[str, bytes], str]:
        """The chart's files from its repository's tarball (what ``helm pull`` gets)."""
        index = yaml.safe_load(fetch(f"{chart.source}/index.yaml"))
        entries = index["entries"].get(chart.name) or []
        self.extra_tags.setdefault(chart.repo, set()).update(
            chart.tag_of(str(e["version"])) for e in entries
        )
        found = [e for e in entries if str(e["version"]) == version]
        if not found:
            return {}, ""  # never published: make conformance reports it from tags.txt
        url = urllib.parse.urljoin(chart.source + "/", found[0]["urls"][0])
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(fetch(url)), mode="r:gz") as tgz:
            for member in tgz.getmembers():
                handle = tgz.extractfile(member) if member.isfile() else None
                if handle is not None and "/" in member.name:
                    files[member.name.split("/", 1)[1]] = handle.read()
        return files, url

    def _write_chart_files(
        self, chart: upstream.Chart, version: str, files: Mapping[str, bytes], origin: str
    ) -> None:
        """Chart.yaml, values, schema and CRDs byte for byte (the chart's and its local
        subcharts'); the templates only as ``values-read`` facts."""
        ref, stem = chart.tag_of(version), chart.derived_of(version)
        base = upstream.repo_dir(self.out, chart.repo) / ref / chart.path
        templates: dict[str, list[str]] = {}
        for name, data in files.items():
            sub = re.fullmatch(r"charts/([^/]+)/(.+)", name)
            owner, rest = (f"{stem}.{sub.group(1)}", sub.group(2)) if sub else (stem, name)
            if rest in KEPT or rest.startswith("crds/"):
                self.write(base / name, data)
            elif rest.startswith("templates/"):
                templates.setdefault(owner, []).append(data.decode("utf-8", "replace"))
        for owner, texts in templates.items():
            folder = (
                chart.path if owner == stem else f"{chart.path}/charts/{owner[len(stem) + 1 :]}"
            )
            self.derived(
                f"{owner}.values-read",
                kind="values-read",
                repo=chart.repo,
                ref=ref,
                path=folder,
                sources=[f"{folder}/templates ({len(texts)} files, from {origin})"],
                facts=values_read(texts),
            )

    def _vendor_path(self, repo: str, ref: str, path: str) -> None:
        if path.endswith((".yaml", ".yml", ".json", ".csv")):
            self.vendor(repo, ref, path)
            return
        for file in tree(repo, ref, path):
            if file.endswith((".yaml", ".yml")):
                self.vendor(repo, ref, file)

    # -- images, metrics, CRDs of the clouds

    def image(self, image: str) -> None:
        ref = parse_image(image)
        source = IMAGE_SOURCES.get(ref.repository)
        if source is None or not ref.tag:
            return
        repo, tag_format, dockerfile = source
        git_ref = tag_format.format(tag=ref.tag)
        text = raw_file(repo, git_ref, dockerfile).decode()
        commit, date = tag_commit(repo, git_ref)
        self.images.append(
            {
                "generated": f"derived from {repo}@{git_ref}:{dockerfile} on {self.today} "
                "(generated: do not edit, re-run it)",
                "image": ref.repository,
                "tag": ref.tag,
                "kind": "image",
                "repo": repo,
                "ref": git_ref,
                "commit": commit,
                "date": date,
                "path": dockerfile,
                "sources": [dockerfile],
                "facts": dockerfile_facts(text),
            }
        )
        self.tag_families.setdefault(repo, set()).add("")

    def triton(self, container_version: str) -> None:
        repo = "triton-inference-server/server"
        build = raw_file(repo, f"r{container_version}", "build.py").decode()
        versions = {c: t for t, c in triton_version_map(build).items()}
        triton = versions[container_version]
        ref = f"v{triton}"
        self.derived(
            f"triton-v{triton}.version-map",
            kind="version-map",
            repo=repo,
            ref=ref,
            path="build.py",
            sources=["build.py"],
            facts={"triton_version": triton, "container_version": container_version},
        )
        doc = raw_file(repo, ref, "docs/user_guide/metrics.md").decode()
        self.derived(
            f"triton-v{triton}.metrics",
            kind="metrics",
            repo=repo,
            ref=ref,
            path="docs/user_guide/metrics.md",
            sources=["docs/user_guide/metrics.md"],
            facts={"metrics": triton_metric_names(doc)},
        )
        self.tag_families.setdefault(repo, set()).add("v")

    def kube_state_metrics(self, app_version: str) -> None:
        repo, ref = "kubernetes/kube-state-metrics", f"v{app_version.lstrip('v')}"
        docs = [p for p in tree(repo, ref, "docs/metrics") if p.endswith(".md")]
        texts = [raw_file(repo, ref, p).decode() for p in docs]
        self.derived(
            f"kube-state-metrics-{ref}.metrics",
            kind="metrics",
            repo=repo,
            ref=ref,
            path="docs/metrics",
            sources=docs,
            facts={"metrics": ksm_metric_names(texts)},
        )
        self.tag_families.setdefault(repo, set()).add("v")

    def karpenter(self, version: str) -> None:
        repo, ref = "aws/karpenter-provider-aws", f"v{version}"
        files = [p for p in tree(repo, ref, "pkg") if p.endswith("metrics.go")]
        texts = [raw_file(repo, ref, p).decode() for p in files]
        names = karpenter_metric_names(
            texts, {"metrics.Namespace": "karpenter", "Namespace": "karpenter"}
        )
        self.derived(
            f"karpenter-{ref}.metrics",
            kind="metrics",
            repo=repo,
            ref=ref,
            path="pkg/**/metrics.go",
            sources=files,
            facts={"metrics": names},
        )

    def dcgm(self, image_version: str) -> None:
        repo = "NVIDIA/dcgm-exporter"
        self.vendor(repo, dcgm_tag(image_version), "etc/dcp-metrics-included.csv")
        self.tag_families.setdefault(repo, set()).add("")

    # -- tags and snapshots

    def finish(self) -> None:
        for repo, families in sorted(self.tag_families.items()):
            tags = {t for t in git_tags(repo) if any(t.startswith(f) for f in families)}
            tags |= self.extra_tags.get(repo, set())
            folder = upstream.repo_dir(self.out, repo)
            self.write(folder / "tags.txt", ("\n".join(sorted(tags)) + "\n").encode())
            commit, date = git_head(repo)
            self.write(folder / "snapshot.txt", f"{commit[:9]} {date}\n{commit}\n".encode())
        if self.images:
            header = (
                f"# Generated on {self.today} (do not edit, re-run it):\n# facts of upstream "
                "images derived from their Dockerfiles, which are not kept. user: the final\n"
                "# stage's USER; null means none, so the image runs as uid 0 (root).\n"
            )
            body = yaml.safe_dump({"images": self.images}, sort_keys=False)
            self.write(self.out / "derived" / "images.yaml", (header + body).encode())


def gather(plans: Mapping[str, Plan], out: Path) -> Gatherer:
    g = Gatherer(out)
    seen: set[tuple[str, str]] = set()
    for plan in plans.values():
        for release in releases(plan):
            inputs = release["inputs"]
            opts = inputs.get("repositoryOpts") or {}
            chart = upstream.chart_of(str(inputs.get("chart")), opts.get("repo"))
            if chart is None or (chart.name, str(inputs.get("version"))) in seen:
                continue
            version = str(inputs.get("version"))
            seen.add((chart.name, version))
            g.chart(chart, version)
            _subcharts(g, chart, version, seen)
            values = integral(inputs.get("values") or {})
            if chart.name == "gpu-operator":
                defaults = yaml.safe_load(
                    (
                        upstream.repo_dir(out, chart.repo)
                        / chart.tag_of(version)
                        / chart.path
                        / "values.yaml"
                    ).read_text()
                )
                g.dcgm(
                    str(
                        (values.get("dcgmExporter") or {}).get("version")
                        or defaults["dcgmExporter"]["version"]
                    )
                )
            if chart.name in ("karpenter", "karpenter-crd"):
                g.karpenter(version)
        for resource in kubernetes_objects(plan):
            for _, _, container in containers(manifest(resource)):
                image = str(container.get("image", ""))
                g.image(image)
                ref = parse_image(image)
                if "tritonserver" in ref.repository and ref.tag:
                    g.triton(ref.tag.split("-", 1)[0])
    for repo, git_ref, path in upstream.MANAGED_CRDS.values():
        g.vendor(repo, git_ref, path)
    g.finish()
    return g


def _subcharts(
    g: Gatherer, chart: upstream.Chart, version: str, seen: set[tuple[str, str]]
) -> None:
    chart_yaml = (
        upstream.repo_dir(g.out, chart.repo) / chart.tag_of(version) / chart.path / "Chart.yaml"
    )
    if not chart_yaml.is_file():
        return
    for dep in yaml.safe_load(chart_yaml.read_text()).get("dependencies") or ():
        sub = upstream.chart_by_dependency(dep["name"], str(dep.get("repository") or ""))
        if sub is None:
            continue  # a local subchart: vendored with its parent
        index = yaml.safe_load(fetch(f"{sub.source}/index.yaml"))
        versions = [str(e["version"]) for e in index["entries"].get(sub.name) or ()]
        matching = upstream.version_matching(versions, str(dep.get("version", "")))
        if not matching:
            continue
        best = max(matching, key=upstream.version_key)
        if (sub.name, best) not in seen:
            seen.add((sub.name, best))
            g.chart(sub, best)
            if sub.name == "kube-state-metrics":
                sub_yaml = (
                    upstream.repo_dir(g.out, sub.repo) / sub.tag_of(best) / sub.path / "Chart.yaml"
                )
                g.kube_state_metrics(str(yaml.safe_load(sub_yaml.read_text())["appVersion"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make upstream-facts", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="the facts folder to write")
    parser.add_argument("stacks", nargs="*", help="stacks whose pins to gather (default: all)")
    args = parser.parse_args(argv)
    from tools.conformance.__main__ import known_stacks, record  # noqa: PLC0415 (cycle-free CLI)

    plans, errors = record(args.stacks or known_stacks())
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 2
    gather(plans, args.out)
    print(f"upstream facts written to {args.out}; review the diff, then UPSTREAM_FACTS={args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
