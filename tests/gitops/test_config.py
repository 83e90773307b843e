"""flowpilot.yaml: which flows a repository syncs and its policies, with positioned errors."""

from __future__ import annotations

import pytest

from flowpilot.gitops.config import RepoConfig, glob_matches, load_config


def test_no_file_syncs_every_flow_and_leaves_the_policies_to_the_server() -> None:
    config, problems = load_config(None)
    assert problems == [] and config == RepoConfig()
    assert config.selects("billing/invoice.flow.yaml")
    assert config.prune is None and config.drift is None


def test_include_exclude_and_policies_are_read() -> None:
    config, problems = load_config(
        "version: 1\ninclude: ['billing/**', '*.flow']\nexclude: [billing/drafts]\n"
        "prune: true\ndrift: overwrite\n"
    )
    assert problems == []
    assert config.prune is True and config.drift == "overwrite"
    assert config.selects("billing/invoice.flow.yaml")
    assert config.selects("top.flow")
    assert not config.selects("billing/drafts/wip.flow.yaml")
    assert not config.selects("hr/onboarding.flow.yaml")


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("**", "a/b/c.flow", True),
        ("**/*.flow", "c.flow", True),
        ("**/*.flow", "a/b/c.flow", True),
        ("*.flow", "a/c.flow", False),
        ("a/*/c.flow", "a/b/c.flow", True),
        ("a/*/c.flow", "a/b/x/c.flow", False),
        ("drafts", "drafts/x.flow", True),
        ("drafts/", "drafts/deep/x.flow", True),
        ("[ab]*.flow", "b1.flow", True),
        ("[!ab]*.flow", "b1.flow", False),
        ("./x.flow", "x.flow", True),
    ],
)
def test_globs(glob: str, path: str, matches: bool) -> None:
    assert glob_matches(glob, path) is matches


def test_every_problem_names_its_line_and_column_with_a_hint() -> None:
    _, problems = load_config(
        "drift: overwrit\nprun: true\ninclude: [/abs, 3]\n", "ops/flowpilot.yaml"
    )
    found = [(p.code, p.span.file, p.span.line, p.span.column, p.hint) for p in problems]
    assert found == [
        ("G001", "ops/flowpilot.yaml", 1, 8, "did you mean 'overwrite'?"),
        ("G001", "ops/flowpilot.yaml", 2, 1, "did you mean 'prune'?"),
        ("G001", "ops/flowpilot.yaml", 3, 11, 'write it like "billing/**" or "**/*.flow.yaml"'),
        ("G001", "ops/flowpilot.yaml", 3, 17, None),
    ]


def test_invalid_yaml_points_at_the_problem() -> None:
    _, [problem] = load_config("include: [a\nprune: true\n")
    assert problem.code == "G001" and "not valid YAML" in problem.message
    assert problem.span.line == 2


def test_prune_must_be_a_boolean_and_the_file_a_mapping() -> None:
    _, [problem] = load_config("prune: sometimes\n")
    assert problem.message == "'prune' is true or false" and problem.span.column == 8
    _, [problem] = load_config("- a\n")
    assert "must be a mapping" in problem.message
