"""The README speaks for the repository: every make target it names exists, every
file or folder it links or names in a path column exists, and the policy count it
states is the pack's."""

from __future__ import annotations

import re

import pytest

from policies.registry import POLICIES
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
MAKEFILE = (REPO / "Makefile").read_text()
TARGETS = set(re.findall(r"^([a-zA-Z0-9_-]+(?:\s+[a-zA-Z0-9_-]+)*)\s*:(?!=)", MAKEFILE, re.M))
TARGET_NAMES = {name for group in TARGETS for name in group.split()}


def test_every_make_target_the_readme_names_exists() -> None:
    named = set(re.findall(r"`make ([a-z][a-z0-9-]*)", README))
    assert named, "the README names no make target"
    assert sorted(named - TARGET_NAMES) == []


def _linked_paths() -> set[str]:
    links = {m.split("#")[0] for m in re.findall(r"\]\(([^)#][^)]*)\)", README)}
    return {link for link in links if link and not link.startswith(("http://", "https://"))}


@pytest.mark.parametrize("path", sorted(_linked_paths()))
def test_every_relative_link_resolves(path: str) -> None:
    assert (REPO / path).exists(), path


def test_every_path_in_where_things_are_exists() -> None:
    table = README.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    paths = {p for p in re.findall(r"`([a-z_]+/[A-Za-z0-9_./<>-]*)`", table) if "<" not in p}
    assert len(paths) > 10
    assert sorted(p for p in paths if not (REPO / p).exists()) == []


def test_the_policy_count_is_the_packs() -> None:
    stated = re.search(r"CrossGuard policy pack of (\d+)", README.replace("\n", " "))
    assert stated is not None
    assert int(stated.group(1)) == len(POLICIES)
