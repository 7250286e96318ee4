"""MDN's LocalLibrary, vendored in tests/fixtures/locallibrary (its SOURCE.md): what its contract
names, for the tests that adopt it (tests/e2e/test_locallibrary_in_place.py in a repository of its
own, tests/e2e/test_adopted_project.py in a copy of this checkout, tests/unit/test_init.py runs
`hangar init` on it where it is)."""

from hangar.core.paths import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "locallibrary"
SETTINGS_MODULE = "locallibrary.settings"
WSGI_APPLICATION = "locallibrary.wsgi:application"
