"""The Procfile, which only the Python platform runs: the web process README names, bound where that
platform's nginx forwards (8000, or the PORT property when set)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from localeb.errors import LocalEBError
from localeb.proxy import PYTHON_PORT
from localeb.python import proxy_port
from localeb.staging import procfile
from testkit.tree import ROOT


def gunicorn_bind(**environ: str) -> str:
    """The `bind` gunicorn.conf.py computes in a process with this environment (PORT unset unless given)."""
    env = {name: value for name, value in os.environ.items() if name != "PORT"}
    env.update(APP_ENV="test", **environ)
    return subprocess.run([sys.executable, "-c", "import runpy; print(runpy.run_path('gunicorn.conf.py')['bind'])"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_the_procfile_runs_the_web_process_the_docs_name():
    web = procfile(ROOT)["web"]
    assert f"`web: {web}`" in (ROOT / "docs" / "eb-laptop.md").read_text()
    assert re.fullmatch(r'gunicorn --config gunicorn\.conf\.py "board:create_app\(\)"', web)


def test_the_web_process_binds_where_the_python_platforms_nginx_forwards():
    assert gunicorn_bind() == f"0.0.0.0:{PYTHON_PORT}" == f"0.0.0.0:{proxy_port({})}"
    # With the PORT property set, the platform's nginx and gunicorn both follow it.
    assert gunicorn_bind(PORT="8123") == f"0.0.0.0:{proxy_port({'PORT': '8123'})}"


@pytest.mark.parametrize(("text", "message"), [
    ("worker: python -m worker\n", "no `web` process"),
    ("web gunicorn app:app\n", "is not `name: command`"),
])
def test_a_procfile_without_a_web_process_or_with_a_bad_line_is_refused(tmp_path, text, message):
    (tmp_path / "Procfile").write_text(text)
    with pytest.raises(LocalEBError, match=message):
        procfile(tmp_path)


def test_a_bundle_without_procfile_is_refused_on_the_python_platform(tmp_path):
    with pytest.raises(LocalEBError, match="no Procfile"):
        procfile(tmp_path)
