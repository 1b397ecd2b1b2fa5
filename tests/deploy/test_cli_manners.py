"""The command line as a user meets it: options anywhere, regions as the AWS CLI reads them, exit codes,
one-line errors, output that streams when piped, GitHub Actions annotations."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import boto3
import pytest

from deploy import cli, release
from deploy.aws import Clients
from deploy.errors import DEPLOY_FAILED, USAGE, DeployError
from localeb import eb_api
from testkit.tree import ROOT
from tests.deploy.conftest import APP, ENV, ship


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_global_options_are_accepted_after_the_command(ready, capsys):
    code, out, err = run(capsys, "status", "--app", APP, "--env", ENV, "--region", "us-east-1", "--poll", "0.02")
    assert code == 0, err
    assert out.startswith(f"{ENV}: Ready, health Green/Ok")


def test_aws_region_is_read_before_aws_default_region(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert Clients().eb.meta.region_name == "eu-west-1"
    assert Clients("ap-south-1").eb.meta.region_name == "ap-south-1"
    monkeypatch.delenv("AWS_REGION")
    assert Clients().eb.meta.region_name == "us-east-1"


def test_a_mistyped_region_fails_at_once_in_one_line(aws_env, capsys):
    code, out, err = run(capsys, "--region", "us-eats-1", "status", "--app", APP, "--env", ENV)
    assert code == USAGE
    assert err.strip().splitlines() == [
        "deploy: unknown AWS region 'us-eats-1' (Elastic Beanstalk runs in e.g. us-east-1, eu-west-1; check "
        "--region, AWS_REGION and AWS_DEFAULT_REGION)"]


def test_status_exits_non_zero_when_the_environment_is_not_healthy(ready, tmp_path, capsys):
    ship(ready, tmp_path, "v1")
    eb_api.mark_bad("v2")
    with pytest.raises(DeployError):
        ship(ready, tmp_path, "v2", rollback=False)
    code, out, _ = run(capsys, "status", "--app", APP, "--env", ENV)
    assert code == DEPLOY_FAILED
    assert "health Red/Severe" in out and "cause: 100.0 % of the requests are failing" in out


@pytest.mark.parametrize("argv", [
    ("rollback", "--app", APP, "--env", ENV, "--to", "nosuch"),
    ("prune", "--app", "nope"),
    ("status", "--app", "nope", "--env", ENV),
])
def test_unknown_application_or_label_is_exit_2_in_one_line(ready, capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == USAGE
    assert len(err.strip().splitlines()) == 1 and err.startswith("deploy: ")


def test_a_missing_ebignore_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "ROOT", tmp_path)
    code, out, err = run(capsys, "bundle", "--output", str(tmp_path / "b.zip"))
    assert code == USAGE
    assert err == f"deploy: {tmp_path / '.ebignore'} is missing: without it the bundle would hold the whole tree\n"


def test_on_github_actions_events_are_grouped_and_failures_annotated(ready, tmp_path, capsys, monkeypatch):
    ship(ready, tmp_path, "v1")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    eb_api.mark_bad("v2")
    code, out, _ = run(capsys, "--poll", "0.02", "release", "--app", APP, "--env", ENV, "--label", "v2",
                       "--timeout", "5")
    assert code == DEPLOY_FAILED
    lines = out.splitlines()
    opened = lines.index("::group::board-test: deploying v2")
    assert any("Failed to deploy application version v2" in line for line in lines[opened:lines.index("::endgroup::")])
    assert lines[-1].startswith("::error title=deploy::v2 did not become healthy")
    assert "rolled back to v1" in lines[-1] and "\n" not in lines[-1]


def test_untracked_files_make_the_label_dirty_and_it_says_so(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    (tmp_path / "app.py").write_text("print('hi')\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    assert not release.default_label(tmp_path).endswith("-dirty")
    (tmp_path / "secret_notes.py").write_text("x = 1\n")
    lines = []
    assert release.default_label(tmp_path, lines.append).endswith("-dirty")
    assert "(1 untracked): secret_notes.py" in lines[0]


def test_a_label_conflict_is_found_before_any_upload(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    tree = tmp_path / "tree"
    (tree / ".ebextensions").mkdir(parents=True)
    (tree / ".ebignore").write_text("")
    (tree / "Dockerfile").write_text("FROM python:3.12-slim\n")
    bucket = ready.eb.create_storage_location()["S3Bucket"]
    objects = ready.s3.list_objects_v2(Bucket=bucket)["KeyCount"]
    with pytest.raises(DeployError, match="version v1 already exists with a different bundle"):
        ship(ready, tmp_path, "v1", root=tree)
    assert ready.s3.list_objects_v2(Bucket=bucket)["KeyCount"] == objects


def test_the_size_limit_is_checked_on_the_file_list_before_zipping(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "MAX_BUNDLE_BYTES", 1024)

    def never(*args):
        raise AssertionError("zipped")

    monkeypatch.setattr(release, "write_bundle", never)
    with pytest.raises(DeployError, match=r"files hold [\d.]+ MiB; Elastic Beanstalk takes at most 0.0 MiB"):
        release.build_bundle(ROOT, tmp_path / "b.zip")


@pytest.mark.slow
def test_output_streams_line_by_line_when_piped(server):
    """A CI log shows progress as it happens: the first lines arrive while the release still runs."""
    eb_api.set_delay(3)
    # As in a CI runner: no PYTHONUNBUFFERED to hide block buffering.
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("AWS_") and key != "PYTHONUNBUFFERED"}
    environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": server})
    subprocess.run([sys.executable, "-m", "deploy", "provision", "--app", APP, "--env", ENV, "--poll", "0.1"],
                   cwd=ROOT, env=environ, check=True, capture_output=True, timeout=120)
    process = subprocess.Popen([sys.executable, "-m", "deploy", "release", "--app", APP, "--env", ENV, "--label",
                                "v1", "--poll", "0.1"], cwd=ROOT, env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = process.stdout.readline()
        # Printed at once, not held back until the release is over (processing and the update take 3 s each).
        assert first.startswith("bundle v1.zip: ")
        eb = boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=server)
        [env] = eb.describe_environments(ApplicationName=APP, EnvironmentNames=[ENV])["Environments"]
        assert (env.get("VersionLabel"), env["Status"]) != ("v1", "Ready")
    finally:
        process.kill()
        process.wait()


def test_the_exit_codes_in_the_help_and_the_docs_are_the_tools():
    from deploy.errors import EXIT_CODES, exit_codes_text

    assert exit_codes_text() in cli.parser().format_help()
    docs = (ROOT / "docs" / "deploy-tool.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", docs.split("## Exit codes", 1)[1].split("\n## ", 1)[0], re.M)
    assert {int(code): meaning for code, meaning in rows} == EXIT_CODES
    assert "docs/deploy-tool.md#exit-codes" in (ROOT / "README.md").read_text()


def test_the_cli_names_every_exit_code_it_returns():
    source = (ROOT / "deploy" / "cli.py").read_text()
    assert not re.search(r"return \d+\s*$", source, re.M), "a literal exit code in cli.py: name it in deploy/errors.py"


def provisioned_over_http(server: str) -> dict[str, str]:
    """An environment on the moto server, Ready; the process environment a `python -m deploy` there needs."""
    from deploy import environment, provision

    clients = Clients("us-east-1", endpoint_url=server)
    provision.provision(clients, APP, ENV, out=lambda line: None)
    environment.wait(clients.eb, APP, ENV, lambda s: s.status == "Ready", 20, 0.05)
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": server})
    return environ


@pytest.mark.slow
def test_status_into_a_closed_pipe_ends_with_its_own_exit_code(server):
    environ = provisioned_over_http(server)
    process = subprocess.Popen([sys.executable, "-m", "deploy", "status", "--app", APP, "--env", ENV], cwd=ROOT,
                               env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # as `| head -0` does: the reader is gone before the first line
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err


def test_an_endpoint_that_does_not_answer_as_aws_is_one_line(aws_env, capsys):
    import http.server
    import threading

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"upstream connect error or disconnect/reset before headers"
            self.send_response(400)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    proxy = http.server.HTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        code, out, err = run(capsys, "--endpoint-url", f"http://127.0.0.1:{proxy.server_port}", "status", "--app",
                             APP, "--env", ENV)
    finally:
        proxy.shutdown()
    assert code == USAGE
    assert len(err.strip().splitlines()) == 1 and "not an AWS response" in err and "--endpoint-url" in err


def test_upload_progress_off_a_terminal_is_a_line_a_quarter():
    import io

    log = io.StringIO()
    progress = release.Progress(100, out=log)
    for _ in range(100):
        progress(1)
    assert "\r" not in log.getvalue()
    assert log.getvalue().splitlines() == [f"  upload {n:3d}% of 0.0 MiB" for n in (25, 50, 75, 100)]


@pytest.mark.slow
def test_sigterm_after_sigint_says_what_was_left_in_flight(server):
    """How CI cancels a job: SIGINT (here: --abort starts aborting), then SIGTERM while the abort runs."""
    import signal

    environ = provisioned_over_http(server)
    eb_api.set_delay(4)
    eb_api.set_processing(0)
    process = subprocess.Popen([sys.executable, "-m", "deploy", "release", "--app", APP, "--env", ENV, "--label",
                                "v1", "--poll", "0.1", "--abort"], cwd=ROOT, env=environ, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        while "Deploying new version v1" not in process.stdout.readline():  # followed: events shown
            assert process.poll() is None
        process.send_signal(signal.SIGINT)
        while not process.stdout.readline().startswith("aborting the update"):
            assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 143
    assert err.strip().splitlines()[-1] == ("deploy: terminated (SIGTERM) during the abort of the update of "
                                            f"{ENV}, which goes on at Elastic Beanstalk: `python -m deploy watch` "
                                            "follows it")
