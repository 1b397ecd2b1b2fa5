"""Health policy: Warning is said at once and accepted on request; a version must stay healthy through
the soak, or it is rolled back with EB's causes."""

from __future__ import annotations

import pytest

from deploy.errors import DEPLOY_FAILED, NEEDS_ATTENTION, DeployError
from localeb import eb_api
from tests.deploy.conftest import ship, state


def test_warning_is_said_at_once_and_the_timeout_names_accept_warning(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.health_after("v2", (0, "Warning"))
    lines = []
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", lines, timeout=0.5, rollback=False)
    notice = next(line for line in lines if "deployed with health Warning" in line)
    assert "4.0 % of the requests are failing" in notice and "--accept-warning" in notice
    assert failure.value.exit_code == NEEDS_ATTENTION
    assert "timed out after 0 s" in str(failure.value) and "pass --accept-warning" in str(failure.value)


def test_accept_warning_counts_warning_as_released(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.health_after("v2", (0, "Warning"))
    released = ship(ready, tmp_path, "v2", accept_warning=True)
    assert (released.version, released.health_status) == ("v2", "Warning")


def test_degraded_during_the_soak_fails_and_rolls_back_with_the_causes(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.health_after("v2", (0.3, "Degraded"))  # Ok first, Degraded a moment later
    lines = []
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", lines, soak=3)
    assert failure.value.exit_code == DEPLOY_FAILED
    assert "v2 went Red/Degraded during the 3 s soak" in str(failure.value)
    assert "rolled back to v1" in str(failure.value)
    causes = [line for line in lines if line.startswith("  cause: ")]
    assert any("25.0 % of the requests are failing" in line and line.count("(Degraded)") for line in causes)
    assert (state(ready).version, state(ready).health) == ("v1", "Green")


def test_a_version_that_stays_ok_through_the_soak_is_released(ready, tmp_path):
    released = ship(ready, tmp_path, "v1", soak=0.3)
    assert (released.version, released.health_status) == ("v1", "Ok")
