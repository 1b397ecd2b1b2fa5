"""The proxy configuration a deployment stages: the platform's nginx.conf (or the bundle's whole
`.platform/nginx/nginx.conf`), its `upstream docker` file, and the bundle's `.platform/nginx/` on top."""

from __future__ import annotations

import shutil
from pathlib import Path

PLATFORM_CONF = Path(__file__).parent / "instance" / "nginx.conf"
UPSTREAM_FILE = "conf.d/elasticbeanstalk-nginx-docker-upstream.conf"


def upstream(address: str, port: int) -> str:
    """The platform's upstream file: the container's address on the bridge, its first EXPOSEd port."""
    return f"upstream docker {{\n    server {address}:{port};\n    keepalive 256;\n}}\n"


def stage(staging: Path, destination: Path, address: str, port: int) -> Path:
    """Write the proxy configuration for `staging` into `destination` (EB's /var/proxy/staging/nginx)."""
    (destination / "conf.d" / "elasticbeanstalk").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLATFORM_CONF, destination / "nginx.conf")
    (destination / UPSTREAM_FILE).write_text(upstream(address, port))
    custom = staging / ".platform" / "nginx"
    if custom.is_dir():
        shutil.copytree(custom, destination, dirs_exist_ok=True)
    return destination
