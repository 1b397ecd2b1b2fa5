"""The proxy configuration the local instance stages, as the platform merges a bundle's `.platform/nginx/`."""

from __future__ import annotations

from deploy.local import proxy


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
