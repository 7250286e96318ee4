"""Integration harness: a real, pinned LocalStack for the whole session, and the local stage on it.
The fixtures are hangar.testing.localstack's (the sample's own tests on the stack use them too);
this says in the report's header which LocalStack the session uses.
"""

from hangar.localstack import commands as localstack
from hangar.localstack.endpoint import configured_endpoint


def pytest_report_header() -> str:
    """Which LocalStack the session uses: the dev container's run must show compose's."""
    endpoint = configured_endpoint().url
    if localstack.is_healthy(endpoint):
        return f"LocalStack: {endpoint} answers; the tests reuse it"
    return f"LocalStack: none answers at {endpoint}; the tests start one"
