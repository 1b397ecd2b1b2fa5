"""The proxy configuration the local instance stages, as the platform merges a bundle's `.platform/nginx/`."""

from __future__ import annotations

import pytest

from localeb import proxy
from localeb.errors import LocalEBError
from localeb.python import proxy_port


def test_the_platform_conf_gets_the_upstream_and_the_bundles_conf_d_files(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / ".platform/nginx/conf.d/elasticbeanstalk").mkdir(parents=True)
    (bundle / ".platform/nginx/conf.d/http.conf").write_text("# in http\n")
    (bundle / ".platform/nginx/conf.d/elasticbeanstalk/server.conf").write_text("# in server\n")
    staged = proxy.stage(bundle, tmp_path / "staged", "172.17.0.9", 5000)
    assert (staged / "nginx.conf").read_text() == proxy.PLATFORM_CONF.read_text()
    assert "server 172.17.0.9:5000;" in (staged / proxy.UPSTREAM_FILE).read_text()
    assert (staged / "conf.d/http.conf").is_file() and (staged / "conf.d/elasticbeanstalk/server.conf").is_file()


def test_a_bundles_whole_nginx_conf_replaces_the_platforms(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / ".platform/nginx").mkdir(parents=True)
    (bundle / ".platform/nginx/nginx.conf").write_text("events {}\nhttp { include conf.d/*.conf; }\n")
    staged = proxy.stage(bundle, tmp_path / "staged", "172.17.0.9", 5000)
    assert (staged / "nginx.conf").read_text().startswith("events {}")
    assert (staged / proxy.UPSTREAM_FILE).is_file()  # the platform still writes its upstream


def test_the_python_platform_forwards_to_its_port_and_maps_static_folders(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / ".platform/nginx/conf.d/elasticbeanstalk").mkdir(parents=True)
    (bundle / ".platform/nginx/conf.d/elasticbeanstalk/server.conf").write_text("# in server\n")
    staged = proxy.stage_python(bundle, tmp_path / "staged", 8123, {"/assets": "web/static/"}, "/var/app/current")
    assert (staged / "nginx.conf").read_text() == proxy.PYTHON_PLATFORM_CONF.read_text()
    assert "proxy_pass          http://127.0.0.1:8123;" in (staged / proxy.APPLICATION_FILE).read_text()
    assert "location /assets/ {\n    alias /var/app/current/web/static/;" in (staged / proxy.STATIC_FILE).read_text()
    assert (staged / "conf.d/elasticbeanstalk/server.conf").is_file()
    assert not (staged / proxy.UPSTREAM_FILE).exists()  # no container, no `upstream docker`


def test_the_python_platforms_port_is_the_port_property_or_8000():
    assert proxy_port({}) == proxy_port({"PORT": ""}) == 8000
    assert proxy_port({"PORT": "8123"}) == 8123
    with pytest.raises(LocalEBError, match="not a TCP port"):
        proxy_port({"PORT": "eighty"})
