import pytest

from testkit.compose import Project


@pytest.fixture
def project(docker_engine, tmp_path):
    """A compose project that is always taken down, volumes and all, even when the test fails."""
    project = Project(tmp_path)
    try:
        yield project
    finally:
        project.down(volumes=True)
