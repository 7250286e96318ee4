"""A project that declares every feature of `[tool.hangar]`
(tests/fixtures/declaring_everything.toml): Hangar's tests of those features build their contract
from it, whichever project the checkout carries; its tests of general rules run on the checkout's
own contract."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from hangar.core import capacity
from hangar.core import contract as contract_module
from hangar.core.contract import PYPROJECT, Contract, contract, load
from hangar.core.paths import ROOT

DECLARING_EVERYTHING = ROOT / "tests" / "fixtures" / "declaring_everything.toml"
# What `make bench` would have measured on its capacity-path, for the web service to scale on.
DECLARED_CAPACITY = DECLARING_EVERYTHING.with_suffix(".capacity.json")


def declaring_everything() -> Contract:
    """The fixture's contract, located in the checkout's project: a test that reaches the project
    (its folder, settings, WSGI module) finds the one the checkout carries."""
    checkout = contract()
    return replace(
        load(DECLARING_EVERYTHING),
        project_dir=checkout.project_dir,
        settings_module=checkout.settings_module,
        wsgi_application=checkout.wsgi_application,
    )


@contextmanager
def capacity_measured() -> Iterator[None]:
    """capacity.json holds the fixture's figures, measured on its capacity-path: for building its
    stages (the web service scales on them) and for tests that read them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capacity, "MEASURED_CAPACITY_FILE", DECLARED_CAPACITY)
        yield


@contextmanager
def pinning(pinned: Contract) -> Iterator[None]:
    """`contract()`, wherever the code under test calls it, is `pinned`; `load(path)` still reads
    the path it is given."""
    checkouts = contract_module.load

    def load_pinned(pyproject: Path = PYPROJECT) -> Contract:
        return pinned if pyproject == PYPROJECT else checkouts(pyproject)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contract_module, "load", load_pinned)
        contract_module.contract.cache_clear()
        try:
            yield
        finally:
            contract_module.contract.cache_clear()
