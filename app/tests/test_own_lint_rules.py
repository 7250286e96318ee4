"""This app keeps Hangar's strict lint rules for itself: its own ruff.toml and mypy configuration
(make lint applies a project's own configuration in its folder, hangar.provision.python_lint)."""

from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.provision import python_lint
from hangar.provision.python_lint import mypy_checks


def test_the_app_declares_hangars_strictness_for_itself() -> None:
    sample = contract()
    assert python_lint.has_ruff_config(sample.project_path)
    assert python_lint.has_mypy_config(sample.project_path)
    assert [c.cwd for c in mypy_checks(ROOT, sample)] == [ROOT, sample.project_path]
    own_rules = (sample.project_path / "ruff.toml").read_text()
    assert 'extend = "../pyproject.toml"' in own_rules
