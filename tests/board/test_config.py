"""Configuration from the environment: what EB gives the app, and what a person gets wrong."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from board import config

ROOT = Path(__file__).resolve().parents[2]
HARD_PASSWORD = "p@ss/w:rd%#?&=+ é"
HARD_USER = "rds:us@er/é %"  # each of these breaks a URL unless escaped


def test_rds_variables_build_a_postgresql_url(tmp_path):
    url = config.database_url({"RDS_HOSTNAME": "db.example.com", "RDS_USERNAME": "board",
                               "RDS_PASSWORD": "secret"}, str(tmp_path))
    assert url == "postgresql+psycopg2://board:secret@db.example.com:5432/ebdb"


def test_database_url_wins_over_rds_and_gets_the_driver(tmp_path):
    url = config.database_url({"DATABASE_URL": "postgres://u:p@h/d", "RDS_HOSTNAME": "ignored"}, str(tmp_path))
    assert url == "postgresql+psycopg2://u:p@h/d"


RDS = {"RDS_HOSTNAME": "primary.example.com", "RDS_USERNAME": "board", "RDS_PASSWORD": "secret"}


def test_reads_go_to_the_primary_unless_a_replica_is_named(tmp_path):
    settings = config.app_config(str(tmp_path), {"APP_ENV": "test", **RDS})
    assert settings["READ_DATABASE_URI"] == settings["SQLALCHEMY_DATABASE_URI"]


def test_an_rds_reader_host_is_reached_with_the_rds_port_name_and_credentials():
    url = config.read_database_url({**RDS, "RDS_READ_HOSTNAME": "reader.example.com", "RDS_PORT": "6432"}, "")
    assert url == "postgresql+psycopg2://board:secret@reader.example.com:6432/ebdb"


def test_a_read_url_wins_over_the_rds_reader_host_and_gets_the_driver():
    url = config.read_database_url({"DATABASE_READ_URL": "postgres://u:p@replica/d", "RDS_READ_HOSTNAME": "ignored"},
                                   "")
    assert url == "postgresql+psycopg2://u:p@replica/d"


def test_an_rds_reader_host_without_a_username_is_a_clear_error():
    with pytest.raises(config.ConfigError, match="RDS_READ_HOSTNAME is set but RDS_USERNAME is empty"):
        config.read_database_url({"RDS_READ_HOSTNAME": "reader.example.com"}, "")


@pytest.mark.parametrize("env", ["development", "test"])
def test_no_database_settings_fall_back_to_sqlite_in_instance_folder_outside_production(tmp_path, env):
    assert config.database_url({"APP_ENV": env}, str(tmp_path)) == f"sqlite:///{tmp_path}/board.sqlite"


def test_production_without_a_database_names_the_variables_to_set(tmp_path):
    with pytest.raises(config.ConfigError, match="DATABASE_URL, or RDS_HOSTNAME with RDS_USERNAME and RDS_PASSWORD"):
        config.app_config(str(tmp_path), {"APP_ENV": "production", "SECRET_KEY": "k"})


def test_production_without_a_database_stops_with_one_line():
    result = subprocess.run(
        [sys.executable, "-c", "from board import create_app; create_app()"],
        cwd=ROOT, env={"APP_ENV": "production", "SECRET_KEY": "k", "PATH": "/usr/bin:/bin"}, capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("board: configuration error: no database is configured; production needs DATABASE_URL")


def test_rds_username_and_password_with_special_characters_connect(postgres_url):
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{HARD_USER}"'))
        conn.execute(sa.text(f'CREATE ROLE "{HARD_USER}" LOGIN PASSWORD :pw'), {"pw": HARD_PASSWORD})
    server = sa.engine.make_url(postgres_url)
    environ = {"RDS_HOSTNAME": server.host, "RDS_PORT": str(server.port), "RDS_DB_NAME": "postgres",
               "RDS_USERNAME": HARD_USER, "RDS_PASSWORD": HARD_PASSWORD}
    engine = sa.create_engine(config.database_url(environ, "/nonexistent"))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == HARD_USER
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE "{HARD_USER}"'))
        admin.dispose()


def test_rds_hostname_without_username_is_a_clear_error(tmp_path):
    with pytest.raises(config.ConfigError, match="RDS_USERNAME"):
        config.database_url({"RDS_HOSTNAME": "db"}, str(tmp_path))


@pytest.mark.parametrize("value", ["0", "-3", "ten", "1.5", "101"])
def test_bad_posts_per_page_is_rejected(tmp_path, value):
    with pytest.raises(config.ConfigError, match="POSTS_PER_PAGE"):
        config.app_config(str(tmp_path), {"APP_ENV": "test", "POSTS_PER_PAGE": value})


def test_posts_per_page_defaults_to_ten(tmp_path):
    assert config.app_config(str(tmp_path), {"APP_ENV": "test"})["POSTS_PER_PAGE"] == 10


def test_production_without_secret_key_stops_with_one_line():
    result = subprocess.run(
        [sys.executable, "-c", "from board import create_app; create_app()"],
        cwd=ROOT, env={"APP_ENV": "production", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "board: configuration error: SECRET_KEY is not set; production needs one "
        "(make one with: python -c 'import secrets; print(secrets.token_hex(32))')"
    ]


def test_templates_are_re_read_only_with_auto_reload(tmp_path):
    development = config.app_config(str(tmp_path), {"APP_ENV": "development", "AUTO_RELOAD": "1"})
    production = config.app_config(str(tmp_path), {"SECRET_KEY": "k", "DATABASE_URL": "sqlite://"})
    assert development["TEMPLATES_AUTO_RELOAD"] is True and production["TEMPLATES_AUTO_RELOAD"] is False


def test_development_secret_key_is_kept_across_restarts(tmp_path):
    first = config.app_config(str(tmp_path), {"APP_ENV": "development"})["SECRET_KEY"]
    again = config.app_config(str(tmp_path), {"APP_ENV": "development"})["SECRET_KEY"]
    assert first == again and len(first) >= 32


def test_unknown_app_env_is_rejected(tmp_path):
    with pytest.raises(config.ConfigError, match="APP_ENV"):
        config.app_config(str(tmp_path), {"APP_ENV": "staging"})


@pytest.mark.parametrize(("value", "expected"), [
    *((word, True) for word in sorted(config.TRUTHY)), *((word, False) for word in sorted(config.FALSY)),
    ("YES", True), ("On", True), (None, False),
])
def test_auto_reload_flag_reads_yes_and_no_words(value, expected):
    environ = {} if value is None else {"AUTO_RELOAD": value}
    assert config.server_config(environ)["auto_reload"] is expected


def test_auto_reload_with_a_typo_is_an_error_not_silently_on():
    with pytest.raises(config.ConfigError, match="AUTO_RELOAD"):
        config.server_config({"AUTO_RELOAD": "ture"})


def test_postgresql_engine_options_come_from_their_variables():
    options = config.engine_options({}, "postgresql+psycopg2://u:p@h/d")
    assert options["pool_pre_ping"] is True
    assert options["pool_recycle"] == config.DB_POOL_RECYCLE.default
    assert (options["pool_size"], options["max_overflow"]) == (config.GUNICORN_THREADS.default, 0)
    assert options["connect_args"] == {"connect_timeout": config.DB_CONNECT_TIMEOUT.default}
    options = config.engine_options({"DB_POOL_RECYCLE": "60", "DB_CONNECT_TIMEOUT": "2"}, "postgresql://u:p@h/d")
    assert (options["pool_recycle"], options["connect_args"]["connect_timeout"]) == (60, 2)


@pytest.mark.parametrize("variable", [v for v in config.VARIABLES if v.low is not None], ids=lambda v: v.name)
def test_every_number_setting_refuses_values_outside_its_range(variable):
    for value in (str(variable.low - 1), str(variable.high + 1), "many"):
        with pytest.raises(config.ConfigError, match=variable.name):
            variable.read({variable.name: value})
    assert variable.read({variable.name: f" {variable.high} "}) == variable.high


def test_each_gunicorn_thread_keeps_one_database_connection():
    options = config.engine_options({"GUNICORN_THREADS": "3"}, "postgresql+psycopg2://u:p@h/d")
    assert (options["pool_size"], options["max_overflow"]) == (3, 0)
    assert config.server_config({"GUNICORN_THREADS": "3"})["threads"] == 3


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_default_workers_follow_the_cpus_the_process_may_use():
    # As under `docker run --cpuset-cpus=0`: one usable CPU, one worker, whatever the machine has.
    one_cpu = min(os.sched_getaffinity(0))
    script = "from board.config import server_config; print(server_config({})['workers'])"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, {one_cpu})).stdout
    assert int(out) == 1
    assert config.server_config({"WEB_CONCURRENCY": "7"})["workers"] == 7


def test_development_with_auto_reload_runs_one_worker_unless_told_otherwise():
    assert config.server_config({"AUTO_RELOAD": "1"})["workers"] == 1
    assert config.server_config({"AUTO_RELOAD": "1", "WEB_CONCURRENCY": "3"})["workers"] == 3
    assert config.server_config({})["workers"] == config.usable_cpus()
