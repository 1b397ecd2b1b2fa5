"""EB configuration files: they parse, every option is real and well typed, the facts agree with the app."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from board.config import MAX_CONTENT_LENGTH
from deploy.namespaces import APPLICATION_ENVIRONMENT, DEFAULT_PROCESS, PROXY, PYTHON_CONTAINER, STATIC_FILES
from testkit.ports import free_port
from testkit.tree import ROOT
from tests.conftest import make_app
from tests.eb.options import problems, resource_problems

CONFIGS = sorted((ROOT / ".ebextensions").glob("*.config*"))


def option_settings(path: Path) -> dict:
    return yaml.safe_load(path.read_text()).get("option_settings", {})


def all_settings() -> dict:
    merged: dict = {}
    for path in CONFIGS:
        if path.suffix == ".config":
            for namespace, settings in option_settings(path).items():
                merged.setdefault(namespace, {}).update(settings)
    return merged


def test_there_are_config_files():
    assert any(path.suffix == ".config" for path in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_every_option_is_a_real_eb_option_with_a_valid_value(path):
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    assert set(document) <= {"option_settings", "container_commands", "files", "commands", "packages", "Resources"}
    assert [problem for namespace, settings in document.get("option_settings", {}).items()
            for problem in problems(namespace, settings)] == []
    assert resource_problems(document.get("Resources", {})) == []


def test_the_https_example_serves_https_with_a_certificate_and_redirects_http_to_it():
    document = yaml.safe_load((ROOT / ".ebextensions" / "04-https.config.example").read_text())
    listener = document["option_settings"]["aws:elbv2:listener:443"]
    assert listener["Protocol"] == "HTTPS" and listener["ListenerEnabled"] is True
    assert listener["SSLCertificateArns"].startswith("arn:aws:acm:")
    port_80 = document["Resources"]["AWSEBV2LoadBalancerListener"]["Properties"]
    assert (port_80["Port"], port_80["Protocol"]) == (80, "HTTP")
    [action] = port_80["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"] == {"Protocol": "HTTPS", "Port": "443", "Host": "#{host}", "Path": "/#{path}",
                                        "Query": "#{query}", "StatusCode": "HTTP_301"}  # the same URL, over HTTPS


@pytest.mark.parametrize(("namespace", "settings"), [
    ("aws:elbv2:listener:443", {"Protocol": "HTTPS", "SSLCertificateArn": "arn:aws:acm:x"}),  # the option is plural
    ("aws:elbv2:listener:443", {"Protocol": "TLS"}),
    ("aws:elbv2:listener:99999", {"Protocol": "HTTP"}),
    ("aws:elbv2:listeners:443", {"Protocol": "HTTPS"}),
])
def test_a_mistyped_listener_setting_is_caught(namespace, settings):
    assert problems(namespace, settings)


@pytest.mark.parametrize("settings", [{"HealthCheckInterval": "5"},
                                      {"HealthCheckInterval": "10", "HealthCheckTimeout": "10"}])
def test_a_health_check_timeout_not_below_its_interval_is_caught(settings):
    # EB's default timeout is 5 s: an interval of 5 alone is what an ALB refuses.
    assert problems("aws:elasticbeanstalk:environment:process:default", settings)
    assert not problems("aws:elasticbeanstalk:environment:process:default", {**settings, "HealthCheckTimeout": "4"})


def test_an_override_of_a_resource_eb_does_not_have_is_caught():
    assert resource_problems({"AWSEBLoadBalancerListener": {"Type": "AWS::ElasticLoadBalancingV2::Listener"}})


def test_the_health_check_path_answers_200_without_a_database():
    path = all_settings()[DEFAULT_PROCESS]["HealthCheckPath"]
    app = make_app(f"postgresql+psycopg2://nobody:pw@127.0.0.1:{free_port()}/none")
    assert app.test_client().get(path).status_code == 200


def test_production_is_the_default_environment():
    assert all_settings()[APPLICATION_ENVIRONMENT]["APP_ENV"] == "production"


def test_migrations_do_not_depend_on_a_leader_instance():
    # Every instance runs the hook; the advisory lock makes it once per deployment (docs/eb-platform.md).
    document = yaml.safe_load((ROOT / ".ebextensions" / "02-migrations.config").read_text())
    assert "container_commands" not in document
    hook = ast.parse((ROOT / ".platform" / "hooks" / "predeploy" / "01_migrate.py").read_text())
    code = ast.unparse(ast.Module(body=hook.body[1:], type_ignores=[]))  # no docstring, no comments
    assert "leader" not in code


def test_the_migration_log_is_in_eb_logs():
    files = yaml.safe_load((ROOT / ".ebextensions" / "02-migrations.config").read_text())["files"]
    hook = (ROOT / ".platform" / "hooks" / "predeploy" / "01_migrate.py").read_text()
    log = re.search(r'os.environ.get\("BOARD_MIGRATE_LOG", "([^"]+)"\)', hook)[1]
    for kind in ("taillogs.d", "bundlelogs.d"):
        [content] = [spec["content"] for name, spec in files.items() if f"/tasks/{kind}/" in name]
        assert content.strip() == log


def nginx_size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def nginx_seconds(value: str) -> int:
    return int(value.rstrip("s"))


def nginx_directives() -> dict:
    text = (ROOT / ".platform" / "nginx" / "conf.d" / "elasticbeanstalk" / "board.conf").read_text()
    return dict(re.findall(r"^\s*(\w+)\s+([^;]+);", text, flags=re.MULTILINE))


def test_nginx_takes_the_bodies_the_app_takes():
    assert nginx_size(nginx_directives()["client_max_body_size"]) == MAX_CONTENT_LENGTH


def test_nginx_waits_longer_than_gunicorn():
    from board.config import server_config

    directives = nginx_directives()
    assert nginx_seconds(directives["proxy_read_timeout"]) > server_config({})["timeout"]


@pytest.mark.parametrize("replica", ["nginx.conf", "nginx-python.conf"])
def test_nginx_repeats_nothing_the_platform_server_block_sets(replica):
    platform = (ROOT / "localeb" / "instance-image" / replica).read_text()
    server_block = platform.split("server {", 1)[1]
    platform_directives = set(re.findall(r"^\s*(\w+)\s", server_block, flags=re.MULTILINE))
    assert {"gzip", "gzip_types", "gzip_comp_level"} <= platform_directives
    assert set(nginx_directives()) & platform_directives == set()


# Namespaces one of the two platforms rejects or ignores: they cannot be in .ebextensions, which both read.
ONE_PLATFORM_ONLY = {STATIC_FILES,  # not on Docker
                     PYTHON_CONTAINER,  # Python only
                     PROXY}  # ProxyServer: Docker's (and AL1) only


def test_the_option_settings_suit_both_the_docker_and_the_python_platform():
    assert set(all_settings()) & ONE_PLATFORM_ONLY == set()


def test_the_sample_eb_cli_config_targets_docker_on_al2023():
    config = yaml.safe_load((ROOT / ".elasticbeanstalk" / "config.yml.sample").read_text())
    assert config["global"]["default_platform"] == "Docker running on 64bit Amazon Linux 2023"
