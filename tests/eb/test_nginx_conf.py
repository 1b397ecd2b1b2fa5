"""`nginx -t` on the proxy configuration EB would stage for this bundle: the platform's nginx.conf
(deploy/local/instance/nginx.conf) with the bundle's `.platform/nginx/` merged in, checked by the
host's real nginx (Debian's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from deploy.local import proxy
from testkit.components import unavailable
from testkit.tree import ROOT


def nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        unavailable("REQUIRE_NGINX", "no nginx on this machine (Debian: apt-get install nginx-light)")
    return found


def check(staging: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """Stage as the platform does, then point its absolute runtime paths into tmp_path so any user can test it."""
    staged = proxy.stage(staging, tmp_path / "nginx", "172.17.0.2", 5000)
    conf = staged / "nginx.conf"
    (tmp_path / "log").mkdir()
    text = conf.read_text().replace("/var/log/nginx", str(tmp_path / "log")).replace(
        "/var/run/nginx.pid", str(tmp_path / "nginx.pid")).replace("user                    nginx;", "")
    conf.write_text(text)
    return subprocess.run([nginx(), "-t", "-c", str(conf), "-e", str(tmp_path / "log" / "error.log")],
                          capture_output=True, text=True)


def test_the_platform_config_with_this_bundles_files_passes_nginx_t(tmp_path):
    result = check(ROOT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_a_conf_d_file_repeating_a_platform_directive_fails_nginx_t(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / ".platform", bundle / ".platform")
    extra = bundle / ".platform" / "nginx" / "conf.d" / "elasticbeanstalk" / "zz-gzip.conf"
    extra.write_text("gzip on;\n")
    result = check(bundle, tmp_path)
    assert result.returncode != 0
    assert '"gzip" directive is duplicate' in result.stderr
