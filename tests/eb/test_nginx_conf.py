"""`nginx -t` on the proxy configuration EB would stage for this bundle, on each platform: the platform's
nginx.conf (localeb/instance-image/nginx.conf, nginx-python.conf) and what it generates, with the bundle's
`.platform/nginx/` merged in, checked by the host's real nginx (Debian's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.provision import STATIC_FILES
from localeb import proxy
from testkit.components import unavailable
from testkit.tree import ROOT


def nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        unavailable("REQUIRE_NGINX", "no nginx on this machine (Debian: apt-get install nginx-light)")
    return found


PLATFORMS = ["docker", "python"]


def check(staging: Path, tmp_path: Path, platform: str = "docker") -> subprocess.CompletedProcess:
    """Stage as the platform does, then point its absolute runtime paths into tmp_path so any user can test it."""
    if platform == "python":
        staged = proxy.stage_python(staging, tmp_path / "nginx", proxy.PYTHON_PORT, STATIC_FILES, str(staging))
    else:
        staged = proxy.stage(staging, tmp_path / "nginx", "172.17.0.2", 8000)
    conf = staged / "nginx.conf"
    (tmp_path / "log").mkdir()
    text = conf.read_text().replace("/var/log/nginx", str(tmp_path / "log")).replace(
        "/var/run/nginx.pid", str(tmp_path / "nginx.pid")).replace("user                    nginx;", "")
    conf.write_text(text)
    return subprocess.run([nginx(), "-t", "-c", str(conf), "-e", str(tmp_path / "log" / "error.log")],
                          capture_output=True, text=True)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_platform_config_with_this_bundles_files_passes_nginx_t(tmp_path, platform):
    result = check(ROOT, tmp_path, platform)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_conf_d_file_repeating_a_platform_directive_fails_nginx_t(tmp_path, platform):
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / ".platform", bundle / ".platform")
    extra = bundle / ".platform" / "nginx" / "conf.d" / "elasticbeanstalk" / "zz-gzip.conf"
    extra.write_text("gzip_comp_level 6;\n")  # set in both platforms' server block
    result = check(bundle, tmp_path, platform)
    assert result.returncode != 0
    assert '"gzip_comp_level" directive is duplicate' in result.stderr


def test_on_the_python_platform_static_files_and_the_app_are_locations_of_the_same_server(tmp_path):
    result = check(ROOT, tmp_path, "python")
    assert result.returncode == 0, result.stderr
    merged = subprocess.run([nginx(), "-T", "-c", str(tmp_path / "nginx" / "nginx.conf"), "-e",
                             str(tmp_path / "log" / "error.log")], capture_output=True, text=True).stdout
    assert f"proxy_pass          http://127.0.0.1:{proxy.PYTHON_PORT};" in merged
    assert f"alias {ROOT}/board/static/;" in merged and "location /static/ {" in merged
    assert "client_max_body_size 1m;" in merged  # board.conf lands in that server block too
