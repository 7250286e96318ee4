"""`make lint`'s workflow checks in a repository `hangar init` set up: it has no dependabot.yml."""

from pathlib import Path

from hangar.core.paths import ROOT
from hangar.provision.lint_tools import has_import_contracts, schema_checks


def test_dependabot_is_checked_only_where_the_repository_has_it(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("on: push\n")
    checks = schema_checks(tmp_path, [workflows / "ci.yml"])
    assert [check[-2:] for check in checks] == [
        ["vendor.github-workflows", ".github/workflows/ci.yml"]
    ]
    (tmp_path / ".github" / "dependabot.yml").write_text("version: 2\n")
    checks = schema_checks(tmp_path, [workflows / "ci.yml"])
    assert checks[-1][-2:] == ["vendor.dependabot", ".github/dependabot.yml"]


def test_import_layers_are_checked_where_the_pyproject_declares_them(tmp_path: Path) -> None:
    """Hangar's repository declares them; a repository `hangar init` set up has none, where
    import-linter would stop with "Could not read any configuration"."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "mysite"\n\n[tool.hangar]\nservice-name = "mysite"\n')
    assert not has_import_contracts(pyproject)
    assert has_import_contracts(ROOT / "pyproject.toml")
