"""The proxy configuration a deployment stages: the platform's nginx.conf (or the bundle's whole
`.platform/nginx/nginx.conf`), what the platform generates next to it, and the bundle's `.platform/nginx/` on top.

Docker platform: an `upstream docker` file (the container's address, its first EXPOSEd port).
Python platform: `conf.d/elasticbeanstalk/00_application.conf` (`location /` to 127.0.0.1:PORT) and
one location a static files mapping.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PLATFORM_CONF = Path(__file__).parent / "instance-image" / "nginx.conf"
PYTHON_PLATFORM_CONF = Path(__file__).parent / "instance-image" / "nginx-python.conf"
UPSTREAM_FILE = "conf.d/elasticbeanstalk-nginx-docker-upstream.conf"
APPLICATION_FILE = "conf.d/elasticbeanstalk/00_application.conf"
STATIC_FILE = "conf.d/elasticbeanstalk/01_static.conf"
PYTHON_PORT = 8000  # the Python platform's WSGI port when the PORT property is not set


def upstream(address: str, port: int) -> str:
    """The platform's upstream file: the container's address on the bridge, its first EXPOSEd port."""
    return f"upstream docker {{\n    server {address}:{port};\n    keepalive 256;\n}}\n"


def application(port: int) -> str:
    """The Python platform's `location /`: to the web process on this host."""
    return ("location / {\n"
            f"    proxy_pass          http://127.0.0.1:{port};\n"
            "    proxy_http_version  1.1;\n\n"
            "    proxy_set_header    Connection          $connection_upgrade;\n"
            "    proxy_set_header    Upgrade             $http_upgrade;\n"
            "    proxy_set_header    Host                $host;\n"
            "    proxy_set_header    X-Real-IP           $remote_addr;\n"
            "    proxy_set_header    X-Forwarded-For     $proxy_add_x_forwarded_for;\n"
            "}\n")


def static_files(mappings: dict[str, str], app_dir: str) -> str:
    """One location a staticfiles option: URL path -> folder of the deployed bundle, served by nginx itself."""
    return "".join(f"location {path.rstrip('/')}/ {{\n    alias {app_dir}/{folder.strip('/')}/;\n"
                   "    access_log off;\n}\n" for path, folder in sorted(mappings.items()))


def _merge(staging: Path, destination: Path, platform_conf: Path) -> None:
    (destination / "conf.d" / "elasticbeanstalk").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(platform_conf, destination / "nginx.conf")


def _bundle(staging: Path, destination: Path) -> Path:
    custom = staging / ".platform" / "nginx"
    if custom.is_dir():
        shutil.copytree(custom, destination, dirs_exist_ok=True)
    return destination


def stage(staging: Path, destination: Path, address: str, port: int) -> Path:
    """Write the Docker platform's proxy configuration for `staging` into `destination` (/var/proxy/staging/nginx)."""
    _merge(staging, destination, PLATFORM_CONF)
    (destination / UPSTREAM_FILE).write_text(upstream(address, port))
    return _bundle(staging, destination)


def stage_python(staging: Path, destination: Path, port: int, static: dict[str, str], app_dir: str) -> Path:
    """The Python platform's: its nginx.conf, `location /` to 127.0.0.1:port, the static files locations."""
    _merge(staging, destination, PYTHON_PLATFORM_CONF)
    (destination / APPLICATION_FILE).write_text(application(port))
    if static:
        (destination / STATIC_FILE).write_text(static_files(static, app_dir))
    return _bundle(staging, destination)
