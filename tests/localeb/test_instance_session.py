"""Commands in a local instance go through one session kept open in it (localeb/instance-image/agent): what a
command gives back must be what `docker exec` gives, whichever way it went."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
import uuid

import pytest

from localeb.docker import docker
from localeb.instance import Instance, build_image

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def instance(docker_engine):
    started = Instance(f"board-session-{uuid.uuid4().hex[:8]}", build_image("board-local-eb-instance"), {})
    yield started
    started.close()
    docker("rm", "--force", started.name, check=False)


def test_status_output_environment_and_folder_are_as_docker_exec_gives_them(instance):
    answer = instance.run('echo "$SECRET in $PWD"; echo warning >&2; exit 3', env={"SECRET": "a b\nc"}, workdir="/tmp")
    assert answer.code == 3 and answer.text == "a b\nc in /tmp\nwarning\n"
    assert instance.exec(["printenv", "SECRET"]).code == 1  # a request's variables do not stay for the next
    assert instance.run("kill -TERM $$").code == 128 + 15  # killed by a signal: 128 + its number, as docker exec


def test_a_command_that_leaves_a_process_running_returns_when_it_ends(instance):
    started = time.monotonic()
    answer = instance.run("mkdir -p /tmp/bg && sleep 30 &", workdir="/")  # the subshell keeps its stdout open
    assert answer.ok and time.monotonic() - started < 5


def test_a_command_past_its_timeout_is_killed_and_the_next_one_runs(instance):
    instance.run("rm -f /tmp/late", workdir="/")
    with pytest.raises(subprocess.TimeoutExpired):
        instance.run("sleep 2; touch /tmp/late", timeout=1)
    assert instance.run("echo next").text == "next\n"
    time.sleep(2)
    assert instance.run("ls /tmp/late").code != 0  # the command was killed, not left to finish


def test_commands_from_two_threads_at_once_both_run(instance):
    """One waits for a file the other writes: the second cannot queue behind the first."""
    instance.run("rm -f /tmp/go", workdir="/")
    waited = {}
    waiter = threading.Thread(target=lambda: waited.update(answer=instance.run(
        "for _ in $(seq 100); do [ -f /tmp/go ] && exit 0; sleep 0.1; done; exit 1", workdir="/")))
    waiter.start()
    time.sleep(0.5)
    instance.write_file("/tmp/go", "now")
    waiter.join(30)
    assert waited["answer"].ok


def test_piped_data_reaches_the_command_whole(instance):
    content = "".join(chr(code) for code in range(32, 1200)) * 1000  # about 2 MiB of UTF-8
    instance.write_file("/tmp/data.txt", content)
    digest = hashlib.sha256(content.encode()).hexdigest()
    assert instance.run("sha256sum /tmp/data.txt").text.split()[0] == digest


def test_a_command_whose_instance_stops_under_it_fails_without_hanging(docker_engine):
    doomed = Instance(f"board-session-{uuid.uuid4().hex[:8]}", build_image("board-local-eb-instance"), {})
    try:
        assert doomed.run("true").ok  # the session is open
        threading.Timer(1, lambda: docker("rm", "--force", doomed.name)).start()
        started = time.monotonic()
        answer = doomed.run("sleep 60")
        assert not answer.ok and time.monotonic() - started < 30
    finally:
        doomed.close()
        docker("rm", "--force", doomed.name, check=False)
