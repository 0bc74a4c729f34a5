"""A stack file that imports Pulumi ESC environments previews offline from placeholder
files, says so, never reads a placeholder's secret, and names the file a key belongs in."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from blueprint.config import ConfigError, read_stack_file, validate_config
from tests.conftest import REPO
from tools.preview.recorder import SECRET
from tools.preview.run import preview_stacks

NEVER = "this-string-must-never-reach-a-plan"
ENV = "llm-inference/dev"


def _stacks(tmp_path: Path, environment: object, placeholders: dict[str, object] | None) -> Path:
    """The shipped stacks, with dev's team and cost centre moved into an ESC environment."""
    folder = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", folder, ignore=shutil.ignore_patterns("*.py", "*.json"))
    path = folder / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"].pop("llm-inference:team")
    doc["config"].pop("llm-inference:costCenter")
    doc["environment"] = environment
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    if placeholders is not None:
        esc = folder / "esc" / f"{ENV}.yaml"
        esc.parent.mkdir(parents=True)
        esc.write_text(yaml.safe_dump({"values": {"pulumiConfig": placeholders}}))
    return folder


def _preview(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.preview",
            "dev",
            "--stack-dir",
            str(folder),
            "--out",
            str(tmp_path / "plan"),
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


PLACEHOLDERS = {
    "llm-inference:team": "ml-platform",
    "costCenter": "ml-platform-dev",  # a bare key is the project's, as Pulumi reads it
    "llm-inference:hubToken": {"fn::secret": NEVER},
}


def test_keys_an_environment_supplies_come_from_its_placeholder_file(tmp_path: Path) -> None:
    folder = _stacks(tmp_path, [ENV], PLACEHOLDERS)
    raw, source = read_stack_file(folder / "Pulumi.dev.yaml")
    config = validate_config(raw, source)
    assert (config.team, config.cost_center) == ("ml-platform", "ml-platform-dev")
    (esc,) = source.imports
    assert esc.name == ENV
    assert set(esc.keys) == {
        "llm-inference:team",
        "llm-inference:costCenter",
        "llm-inference:hubToken",
    }
    assert esc.secret_keys == ("llm-inference:hubToken",)
    # The secret's value in the placeholder file is never read: it stands in encrypted.
    assert raw["llm-inference:hubToken"] == {"secure": f"esc:{ENV}"}
    assert NEVER not in repr(raw)


def test_the_stack_file_wins_over_an_environment(tmp_path: Path) -> None:
    folder = _stacks(tmp_path, {"imports": [ENV]}, {**PLACEHOLDERS, "team": "from-esc"})
    path = folder / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["team"] = "from-the-stack-file"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    raw, source = read_stack_file(path)
    assert validate_config(raw, source).team == "from-the-stack-file"


def test_an_esc_backed_stack_previews_with_a_note_and_no_secret(tmp_path: Path) -> None:
    folder = _stacks(tmp_path, [ENV], PLACEHOLDERS)
    proc = _preview(folder, tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert f"note: ESC environment '{ENV}' is not opened offline" in proc.stdout
    assert "stacks/esc/llm-inference/dev.yaml" in proc.stdout
    (result,) = preview_stacks(["dev"], stack_dir=folder)
    assert result.plan is not None, result.error
    text = result.plan.dumps()
    assert NEVER not in text
    # The same keys from an environment instead of the stack file: the same plan.
    golden = json.loads((REPO / "tests" / "golden" / "dev.json").read_text())
    assert json.loads(text)["resources"] == golden["resources"]


def test_an_environment_without_a_placeholder_file_is_named_not_missing_keys(
    tmp_path: Path,
) -> None:
    folder = _stacks(tmp_path, [ENV], None)
    proc = _preview(folder, tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr
    assert f"imports ESC environment '{ENV}'" in proc.stderr
    assert "stacks/esc/llm-inference/dev.yaml" in proc.stderr
    assert "required key is missing" not in proc.stderr


def test_a_key_the_environment_should_supply_says_where_it_goes(tmp_path: Path) -> None:
    folder = _stacks(tmp_path, [ENV], {"llm-inference:team": "ml-platform"})
    raw, source = read_stack_file(folder / "Pulumi.dev.yaml")
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, source)
    text = str(caught.value)
    assert "llm-inference:costCenter" in text
    assert "required key is missing" in text
    assert "stacks/esc/llm-inference/dev.yaml" in text


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("llm-inference/dev", "must be a list of Pulumi ESC environment names"),
        ([], "must be a list of Pulumi ESC environment names"),
        ([""], "must be a list of Pulumi ESC environment names"),
        (["../../etc/passwd"], "is not an ESC environment name"),
    ],
)
def test_a_malformed_environment_key_is_refused(
    tmp_path: Path, environment: object, expected: str
) -> None:
    folder = _stacks(tmp_path, environment, PLACEHOLDERS)
    with pytest.raises(ConfigError) as caught:
        read_stack_file(folder / "Pulumi.dev.yaml")
    assert expected in str(caught.value)
    assert "environment" in str(caught.value)


def test_a_placeholder_file_of_the_wrong_shape_is_named(tmp_path: Path) -> None:
    folder = _stacks(tmp_path, [ENV], PLACEHOLDERS)
    (folder / "esc" / f"{ENV}.yaml").write_text("values: [not, a, mapping]\n")
    with pytest.raises(ConfigError) as caught:
        read_stack_file(folder / "Pulumi.dev.yaml")
    text = str(caught.value)
    assert "dev.yaml" in text
    assert "values: pulumiConfig:" in text


def test_secret_outputs_stay_masked_for_esc_secrets(tmp_path: Path) -> None:
    """The environment's secret reaches the program as a Pulumi secret: the Kubernetes
    Secret of a hub import holds ``[secret]``, as with ``pulumi config set --secret``."""
    folder = _stacks(tmp_path, [ENV], PLACEHOLDERS)
    path = folder / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    serving = doc["config"]["llm-inference:serving"]
    doc["config"]["llm-inference:serving"] = {**serving, "hubImport": {"enabled": True}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    (result,) = preview_stacks(["dev"], stack_dir=folder)
    assert result.plan is not None, result.error
    (secret,) = [
        r for r in result.plan.by_type("kubernetes:core/v1:Secret") if "import" in r["name"]
    ]
    assert secret["inputs"]["stringData"] == SECRET
    assert NEVER not in result.plan.dumps()
