"""The offline preview: the plan format, golden snapshots, determinism, and what it prints
(a summary per stack against a baseline, secrets masked, details on demand)."""

from __future__ import annotations

import base64
import difflib
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from blueprint import outputs as out
from policies.registry import POLICIES
from tests.conftest import REPO, STACKS
from tools.preview.console import Progress, make_console
from tools.preview.diff import diff_plans, find_baseline, output_changes
from tools.preview.outputs import MASKED, masked_outputs, secret_key, show
from tools.preview.recorder import Plan
from tools.preview.render import CHANGES_LISTED

GOLDEN = Path(__file__).parent / "golden"


def test_every_stack_has_a_golden_snapshot() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_plan_matches_golden_snapshot(plans: dict[str, Plan], stack: str) -> None:
    """Every infrastructure change shows up as a reviewable diff of these files.

    After a deliberate change, ``make golden`` rewrites them; review the diff.
    """
    want = (GOLDEN / f"{stack}.json").read_text()
    got = plans[stack].dumps()
    if got != want:
        diff = "".join(
            list(
                difflib.unified_diff(
                    want.splitlines(keepends=True),
                    got.splitlines(keepends=True),
                    f"tests/golden/{stack}.json",
                    "this run",
                    n=2,
                )
            )[:80]
        )
        pytest.fail(f"plan of {stack} differs from its golden snapshot (make golden):\n{diff}")


@pytest.mark.parametrize("stack", STACKS)
def test_plan_has_the_documented_format(plans: dict[str, Plan], stack: str) -> None:
    doc = json.loads(plans[stack].dumps())
    assert doc["stack"] == stack
    assert doc["resources"], "a stack with no resources"
    urns = {r["urn"] for r in doc["resources"]}
    assert len(urns) == len(doc["resources"]), "duplicate URNs"
    for res in doc["resources"]:
        assert {"urn", "type", "name", "parent", "custom", "inputs"} <= set(res)
        assert isinstance(res["custom"], bool)
        assert isinstance(res["inputs"], dict)
        assert res["urn"].endswith(f"::{res['name']}")
        assert res["parent"] is None or res["parent"].startswith(f"urn:pulumi:{stack}::")


def test_components_parent_their_children(plans: dict[str, Plan]) -> None:
    """Every cloud resource sits under a component or is a provider (parent=self)."""
    for plan in plans.values():
        components = {r["urn"] for r in plan.resources if not r["custom"]}
        for res in plan.custom:
            if (
                res["type"].startswith("pulumi:providers:")
                or res["type"] == "pulumi:pulumi:StackReference"
            ):
                continue
            assert res["parent"] in components, (
                f"{plan.stack}: {res['urn']} has no component parent"
            )


def test_edge_reads_the_core_through_a_stack_reference(plans: dict[str, Plan]) -> None:
    edge = plans["edge"]
    (ref,) = edge.by_type("pulumi:pulumi:StackReference")
    assert ref["inputs"]["name"] == "example-org/llm-inference/prod"
    assert edge.outputs[out.CORE_STACK] == "example-org/llm-inference/prod"


def test_stack_outputs_use_the_named_constants(plans: dict[str, Plan]) -> None:
    names = {v for k, v in vars(out).items() if k.isupper()}
    for plan in plans.values():
        assert set(plan.outputs) <= names, set(plan.outputs) - names
        assert plan.outputs[out.ENVIRONMENT] in {"dev", "staging", "prod", "edge"}


def test_two_runs_give_identical_plans(tmp_path: Path) -> None:
    """A deterministic program: two fresh processes write byte-identical plans."""
    runs = []
    for i in range(2):
        target = tmp_path / f"run{i}"
        env = {**os.environ, "PYTHONHASHSEED": str(i + 1)}
        subprocess.run(
            [sys.executable, "-m", "tools.preview", "--quiet", "--out", str(target)],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        runs.append({p.name: p.read_bytes() for p in sorted(target.glob("*.json"))})
    assert sorted(runs[0]) == [f"{s}.json" for s in STACKS]
    assert runs[0] == runs[1]


# ---------------------------------------------------------------------------
# What `make preview` prints: a short summary per stack against a baseline

DEV_RESOURCES = len(json.loads((GOLDEN / "dev.json").read_text())["resources"])
FINAL_LINE = re.compile(
    r"^1 stack: (?P<n>\d+) resources \((?P<ops>\+\d+ ~\d+ -\d+)\), floor \$[\d,]+/mo, "
    r"ceiling \$[\d,]+/mo, (?P<m>\d+) mandatory violations?, \d+ advisory; "
    r"first line after \d+\.\d s, \d+\.\d s in all$"
)

# The committed program, then outputs a reviewer must not read in the log. Its first
# line writes straight to the file descriptor, past Python's buffers: the preview's
# first line is before it only if it was flushed before the program started.
SECRETS_PROGRAM = """
import os
import runpy
import pulumi

os.write(1, b"PROGRAM STARTS\\n")
runpy.run_path({program!r}, run_name="__main__")
pulumi.export("dbPassword", "hunter2-by-name")
pulumi.export("notes", pulumi.Output.secret("hunter2-marked"))
pulumi.export("access", {{"user": "admin", "apiToken": "hunter2-nested",
                         "ticket": pulumi.Output.secret("hunter2-nested-marked")}})
"""


def run_preview(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tools.preview`` as a CI log sees it: no terminal, no colour, 120 columns."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-m", "tools.preview", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def edited_baseline(directory: Path) -> dict[str, str]:
    """dev's golden plan with one resource taken out (a create now), one changed (an
    update) and one that the program no longer has (a delete), and outputs changed."""
    doc = json.loads((GOLDEN / "dev.json").read_text())
    resources = doc["resources"]
    topic = next(r for r in resources if r["type"] == "aws:sns/topic:Topic")
    resources.remove(topic)
    cluster = next(r for r in resources if r["type"] == "aws:eks/cluster:Cluster")
    cluster["inputs"]["version"] = "1.0"
    gone = {**cluster, "urn": cluster["urn"] + "-gone", "name": cluster["name"] + "-gone"}
    resources.append(gone)
    doc["outputs"]["awsRegion"] = "eu-north-1"
    doc["outputs"]["retiredOutput"] = "x"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dev.json").write_text(json.dumps(doc))
    return {"created": topic["name"], "updated": cluster["name"], "deleted": gone["name"]}


@pytest.fixture(scope="module")
def against_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], Path]:
    """One preview of dev with --details, against an edited baseline, with secret outputs."""
    tmp = tmp_path_factory.mktemp("against")
    names = edited_baseline(tmp / "baseline")
    program = tmp / "program.py"
    program.write_text(SECRETS_PROGRAM.format(program=str(REPO / "stacks" / "__main__.py")))
    proc = run_preview(
        "dev",
        "--out",
        str(tmp / "plan"),
        "--against",
        str(tmp / "baseline"),
        "--program",
        str(program),
        "--details",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, names, tmp


def test_the_first_line_is_out_before_the_program_runs(
    against_run: tuple[subprocess.CompletedProcess[str], dict[str, str], Path],
) -> None:
    proc, _names, tmp = against_run
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        f"previewing dev against {tmp}/baseline/dev.json (--against), "
        f"{DEV_RESOURCES} resources there"
    )
    assert lines[1] == "PROGRAM STARTS"
    summary = next(i for i, line in enumerate(lines) if line.startswith("dev: "))
    assert summary > 1
    assert "\x1b[" not in proc.stdout, "no escape codes when stdout is not a terminal"


def test_changes_against_the_baseline_are_marked(
    against_run: tuple[subprocess.CompletedProcess[str], dict[str, str], Path],
) -> None:
    proc, names, tmp = against_run
    lines = proc.stdout.splitlines()
    head = f"  changes against {tmp}/baseline/dev.json (--against): +1 ~1 -1 ={DEV_RESOURCES - 2}"
    assert head in lines
    assert f"    + aws:sns/topic:Topic  {names['created']}" in lines
    assert f"    ~ aws:eks/cluster:Cluster  {names['updated']}  (version)" in lines
    assert f"    - aws:eks/cluster:Cluster  {names['deleted']}" in lines
    assert any(re.match(r"^    ~ awsRegion +\"us-east-1\"$", line) for line in lines)
    assert any(re.match(r"^    - retiredOutput +\(removed\)$", line) for line in lines)


def test_secret_outputs_are_masked(
    against_run: tuple[subprocess.CompletedProcess[str], dict[str, str], Path],
) -> None:
    proc, _names, _tmp = against_run
    assert "hunter2" not in proc.stdout
    lines = proc.stdout.splitlines()
    # By name (password), marked by the program (Output.secret), nested by name or mark.
    assert any(re.match(r"^    \+ dbPassword +\[secret\]$", line) for line in lines)
    assert any(re.match(r"^    \+ notes +\[secret\]$", line) for line in lines)
    (access,) = [line for line in lines if line.startswith("    + access ")]
    assert access.endswith('{"apiToken": [secret], "ticket": [secret], "user": "admin"}')


def test_the_summary_names_disabled_policies_and_ends_with_one_line(
    against_run: tuple[subprocess.CompletedProcess[str], dict[str, str], Path],
) -> None:
    proc, _names, _tmp = against_run
    lines = proc.stdout.splitlines()
    assert (
        f"  policies (dev): {len(POLICIES) - 4} run, 4 disabled (min-replicas, on-demand-floor, "
        "pdb-for-serving, prod-stateful-protected); "
        "0 mandatory violations (0 policies), 0 advisory"
    ) in lines
    assert any(line.startswith("  monthly cost: floor $") for line in lines)
    final = FINAL_LINE.match(lines[-1])
    assert final, lines[-1]
    assert (final["n"], final["ops"], final["m"]) == (str(DEV_RESOURCES), "+1 ~1 -1", "0")


def test_details_show_the_tree_and_the_counts(
    against_run: tuple[subprocess.CompletedProcess[str], dict[str, str], Path],
) -> None:
    proc, names, _tmp = against_run
    lines = proc.stdout.splitlines()
    assert "llm-inference-dev (pulumi:pulumi:Stack)" in lines
    assert any(
        re.search(rf"[├└]── ~ aws:eks/cluster:Cluster  {re.escape(names['updated'])}$", line)
        for line in lines
    )
    assert any(line.split()[:3] == ["resource", "type", "count"] for line in lines)


def test_a_plain_preview_is_short_and_compares_with_the_last_run(tmp_path: Path) -> None:
    """Without --details: no tree, no counts; the last run's plan is the baseline, and
    more than a screenful of changes is counted by type."""
    plan = tmp_path / "plan"
    plan.mkdir()
    doc = json.loads((GOLDEN / "dev.json").read_text())
    counts = Counter(r["type"] for r in doc["resources"] if r["custom"])
    kinds = [k for k, _ in counts.most_common(2)]
    objects = [r for r in doc["resources"] if r["type"] in kinds]
    assert len(objects) > CHANGES_LISTED, "the case needs more changes than are listed"
    doc["resources"] = [r for r in doc["resources"] if r not in objects]
    (plan / "dev.json").write_text(json.dumps(doc))
    proc = run_preview("dev", "--out", str(plan))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"previewing dev against {plan}/dev.json (last run)")
    assert f"  changes against {plan}/dev.json (last run): +{len(objects)} ~0 -0 =" in (proc.stdout)
    for kind in kinds:
        assert f"    +{counts[kind]} ~0 -0  {kind}" in lines
    assert "pulumi:pulumi:Stack" not in proc.stdout
    assert "resource type" not in proc.stdout
    assert len(lines) < 40, "one stack's summary fits on a screen"
    assert [p.name for p in plan.iterdir()] == ["dev.json"]
    assert json.loads((plan / "dev.json").read_text()) == json.loads(
        (GOLDEN / "dev.json").read_text()
    ), "the run replaced the last run's plan"


def test_against_must_be_a_folder(tmp_path: Path) -> None:
    proc = run_preview("dev", "--against", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert "--against" in proc.stderr
    assert "not a directory" in proc.stderr


# ---------------------------------------------------------------------------
# The parts, without a program run


def _res(urn: str, **inputs: object) -> dict[str, object]:
    return {"urn": urn, "type": "t:m:T", "name": urn, "inputs": inputs}


def test_diff_plans_matches_by_urn_and_compares_inputs() -> None:
    before = [_res("a", x=1), _res("b", x=1, y={"z": 1}), _res("c")]
    after = [_res("b", x=1, y={"z": 2}), _res("c"), _res("d")]
    diff = diff_plans(before, after)
    assert [(c.op, c.name, c.paths) for c in diff.changes] == [
        ("-", "a", ()),
        ("~", "b", ("y.z",)),
        ("+", "d", ()),
    ]
    assert diff.ops == {"+": 1, "~": 1, "-": 1}
    assert diff.unchanged == 1
    assert diff_plans([], after).ops == {"+": 3, "~": 0, "-": 0}


def test_the_baseline_is_the_last_run_then_the_golden_snapshot(tmp_path: Path) -> None:
    golden = find_baseline("dev", tmp_path)
    assert golden.origin == "golden snapshot"
    assert golden.path == GOLDEN / "dev.json"
    (tmp_path / "dev.json").write_text(json.dumps({"resources": [_res("a")]}))
    last = find_baseline("dev", tmp_path)
    assert last.origin == "last run"
    assert len(last.resources) == 1
    none = find_baseline("dev", tmp_path, against=tmp_path / "empty")
    assert none.path is None
    assert none.resources == []
    assert none.label.startswith("no baseline: no ")
    assert "empty/dev.json" in none.label


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("dbPassword", True),
        ("api_token", True),
        ("clientSecret", True),
        ("sshPrivateKey", True),
        ("tlsKey", True),
        ("kubeconfig", True),
        ("secretArn", False),
        ("accessKeyId", False),
        ("kmsKeyArn", False),
        ("maxTokens", False),
        ("oidcProviderArn", False),
        ("clusterCaCertificate", False),
    ],
)
def test_secret_keys(key: str, secret: bool) -> None:
    assert secret_key(key) is secret


def test_mask_hides_marked_named_and_private_key_values() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
    outputs = {
        "plain": "visible",
        "marked": {"inner": "hidden", "open": "visible"},
        "keys": [pem, base64.b64encode(pem.encode()).decode(), "LS0tLS1CRUdJTiBDRVJU"],
        "db": {"password": "hidden"},
    }
    masked = masked_outputs(outputs, [("marked", "inner")])
    assert masked == {
        "db": {"password": MASKED},
        "keys": [MASKED, MASKED, "LS0tLS1CRUdJTiBDRVJU"],
        "marked": {"inner": MASKED, "open": "visible"},
        "plain": "visible",
    }
    assert show(masked["marked"]) == '{"inner": [secret], "open": "visible"}'
    assert show("x" * 500, limit=20) == '"' + "x" * 18 + "…"


def test_output_changes() -> None:
    assert output_changes(None, {"a": 1}) == {"a": "+"}
    assert output_changes({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 3, "d": 4}) == {
        "a": "=",
        "b": "~",
        "c": "-",
        "d": "+",
    }


def test_progress_is_drawn_on_terminals_only() -> None:
    assert not Progress(make_console(io.StringIO())).enabled
    terminal = Console(file=io.StringIO(), force_terminal=True, width=80)
    assert Progress(terminal).enabled
    assert not Progress(terminal, enabled=False).enabled


def test_unknown_stack_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.preview", "qa", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "no stack file for qa" in proc.stderr
    assert "known stacks: dev, edge, prod, staging" in proc.stderr
