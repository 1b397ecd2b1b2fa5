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


def test_a_brief_degraded_right_after_a_good_update_is_waited_out(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.health_after("v2", (0, "Degraded"), (0.4, "Ok"))  # a flash, as real environments show
    lines = []
    released = ship(ready, tmp_path, "v2", lines, health_grace=3)
    assert (released.version, released.health_status) == ("v2", "Ok")
    assert any("giving it 3 s to clear (health grace)" in line for line in lines)


def test_degraded_that_outlasts_the_health_grace_fails_and_rolls_back(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.health_after("v2", (0, "Degraded"))
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", health_grace=0.3)
    assert failure.value.exit_code == DEPLOY_FAILED and "rolled back to v1" in str(failure.value)


def test_a_deployment_eb_reports_as_failed_gets_no_grace(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.mark_bad("v2")
    lines = []
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", lines, health_grace=60)  # well past the test's 5 s timeout
    assert "timed out" not in str(failure.value) and "rolled back to v1" in str(failure.value)
    assert not any("health grace" in line for line in lines)


def test_a_rollback_to_a_version_accepted_at_warning_is_judged_by_that_bar(ready, tmp_path):
    ship(ready, tmp_path, "v4")
    eb_api.health_after("v5", (0, "Warning"))  # every time v5 runs
    ship(ready, tmp_path, "v5", accept_warning=True)
    eb_api.health_after("v7", (0.3, "Degraded"))
    lines = []
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v7", lines, soak=3)
    assert failure.value.exit_code == DEPLOY_FAILED, str(failure.value)
    assert "rolled back to v5" in str(failure.value)
    assert any("accepted at health Warning" in line for line in lines)
    assert (state(ready).version, state(ready).health_status) == ("v5", "Warning")


def test_the_warning_notice_counts_the_time_already_spent(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(1.5)
    eb_api.set_processing(0)
    eb_api.health_after("v2", (0, "Warning"))
    lines = []
    with pytest.raises(DeployError):
        ship(ready, tmp_path, "v2", lines, timeout=3, rollback=False)
    notice = next(line for line in lines if "deployed with health Warning" in line)
    assert "waiting up to 1 s more for Ok" in notice or "waiting up to 2 s more for Ok" in notice, notice
