"""Skip a test whose real component is missing, or fail it where CI requires it.

`.ci/run` sets REQUIRE_POSTGRES, REQUIRE_DOCKER, REQUIRE_BROWSER to 1: there a
missing component is a failure, never a silent skip.
"""

import os

import pytest


def required(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() in {"1", "true", "yes", "on"}


def unavailable(variable: str, reason: str):
    """Stop the current test: fail if `variable` requires the component, else skip."""
    if required(variable):
        pytest.fail(f"{reason} (and {variable}=1 requires it)", pytrace=False)
    pytest.skip(reason)
