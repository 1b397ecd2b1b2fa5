"""The compatibility gate: the code that will serve beside a schema change, run against it before it happens.

In a rolling deploy the first instance migrates while the others still serve
the previous version; in a rollback the older code serves whatever schema the
newer one left. So before either, the gate serves that code (its git commit,
from the version label) from a throwaway PostgreSQL: migrated first by its own
migrations, a visitor registers and posts, then the schema is migrated to the
other tree's head while it serves, and the visitor logs in, posts, pages and
reads the API. Any failure refuses the release with the reason, before
anything is uploaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from . import pgcluster
from .errors import DeployError
from .gate_walk import Walk, WalkFailed
from .ports import free_port

LABEL = re.compile(r"(?P<sha>[0-9a-f]{7,40})(?:-[\w.-]+)?")  # the short SHA, maybe with a suffix (-dirty)
# `eb deploy`'s labels: app-<git describe --always --abbrev=4, dots as underscores>-<%y%m%d_%H%M%S%f>
# (ebcli/objects/sourcecontrol.py), so a bare short SHA, or <tag>-<n>-g<short SHA>.
EB_CLI_LABEL = re.compile(r"app-(?:[\w.-]+-\d+-g)?(?P<sha>[0-9a-f]{4,40})-\d{6}_\d{12}")
APP_FILES = ("board", "migrations", "gunicorn.conf.py", "requirements.txt")
SKIP_HINT = "or pass --no-gate to deploy without it"


def commit_of(root: Path, label: str, role: str = "the version serving") -> str:
    """The full commit a version label names, from this checkout's history."""
    match = LABEL.fullmatch(label) or EB_CLI_LABEL.fullmatch(label)
    if not match:
        raise DeployError(f"{role} is {label!r}, not a git short SHA: the gate cannot find its code ({SKIP_HINT})")
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{match['sha']}^{{commit}}"], cwd=root,
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise DeployError(f"{role} is {label}, but commit {match['sha']} is not in this checkout "
                          f"(a shallow clone? `git fetch --unshallow`), {SKIP_HINT}")
    return found.stdout.strip()


def same_migrations(root: Path, commit: str, other: str | None = None) -> bool:
    """Whether migrations/ at `commit` equals it at `other` (default: this working tree, untracked files too)."""
    compared = subprocess.run(["git", "diff", "--quiet", commit, *([other] if other else []), "--", "migrations"],
                              cwd=root, capture_output=True)
    if compared.returncode != 0 or other:
        return compared.returncode == 0
    untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "--", "migrations"], cwd=root,
                               capture_output=True, text=True).stdout
    return not untracked.strip()


def export(root: Path, commit: str, destination: Path) -> Path:
    """The app's files as they were at `commit`."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit, *APP_FILES], cwd=root, capture_output=True)
    if archive.returncode != 0:
        raise DeployError(f"the gate cannot take the app's files from commit {commit[:12]}: "
                          f"{last_lines(archive.stderr.decode(errors='replace'), 1)} ({SKIP_HINT})")
    with tempfile.TemporaryFile() as buffer:
        buffer.write(archive.stdout)
        buffer.seek(0)
        with tarfile.open(fileobj=buffer) as tar:
            tar.extractall(destination, filter="data")
    return destination


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "board-deploy" / "gate"


def app_python(requirements: Path, out) -> Path:
    """A Python with exactly these app requirements, kept per requirements file (a warm run reuses it)."""
    venv = cache_dir() / f"venv-{hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        out(f"gate: installing the app's requirements into {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
                                   capture_output=True, text=True)
        if installed.returncode != 0:
            raise DeployError(f"gate: pip could not install {requirements}: {last_lines(installed.stderr)}")
        (venv / ".complete").touch()
    return python


def last_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])


def app_env(database_url: str, **extra: str) -> dict:
    # Nothing else of this shell: the app reads its whole configuration from the environment.
    kept = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {**kept, "APP_ENV": "production", "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32),
            "FLASK_APP": "board", "POSTS_PER_PAGE": "2", **extra}


def migrate(python: Path, tree: Path, database_url: str) -> None:
    done = subprocess.run([str(python), "-m", "flask", "db", "upgrade"], cwd=tree, env=app_env(database_url),
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise WalkFailed(f"`flask db upgrade` of {tree.name} failed: {last_lines(done.stdout + done.stderr)}")


@contextmanager
def serve(python: Path, tree: Path, database_url: str):
    """gunicorn serving `tree` as production would; yields (base URL, log file)."""
    port = free_port()
    log_path = tree / "gate-gunicorn.log"
    with open(log_path, "w+") as log:
        process = subprocess.Popen([str(python), "-m", "gunicorn", "--config", "gunicorn.conf.py",
                                    "board:create_app()"], cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                                   env=app_env(database_url, PORT=str(port), WEB_CONCURRENCY="1"))
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz", process, log_path)
            yield f"http://127.0.0.1:{port}", log_path
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WalkFailed(f"the server exited ({process.returncode}): {last_lines(log_path.read_text())}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (http to the gate's own server)
                return
        except OSError:
            time.sleep(0.1)
    raise WalkFailed(f"the server did not answer {url} within {timeout:.0f} s")


def server_error(log_path: Path) -> str:
    """The first exception line of the server's log, the cause (what follows it in a broken transaction only
    says the transaction is aborted): usually the SQL the schema refused."""
    lines = [line for line in log_path.read_text().splitlines()
             if re.match(r"[\w.]+(Error|Exception)\b", line) and "InFailedSqlTransaction" not in line]
    return f"; the server logged: {lines[0].strip()[:300]}" if lines else ""


def run(code: Path, code_python: Path, schema: Path, schema_python: Path, out, rollback: bool = False) -> list[str]:
    """`code` serves while `schema`'s migrations run under it (in a rollback, `code`'s own `flask db upgrade`
    runs next, as the rollback's deploy does); the visitor's steps, or WalkFailed."""
    missing = pgcluster.binaries_missing()
    if missing:
        raise DeployError(f"the gate needs a throwaway PostgreSQL: {missing} ({SKIP_HINT})")
    cluster = pgcluster.create_cluster()
    try:
        migrate(code_python, code, cluster.url)
        with serve(code_python, code, cluster.url) as (base, log_path):
            walk = Walk(base)
            try:
                walk.write()
                out(f"gate: the serving code wrote on its own schema ({', '.join(walk.steps)}); migrating")
                migrate(schema_python, schema, cluster.url)
                if rollback:
                    migrate(code_python, code, cluster.url)
                walk.read_and_write()
            except WalkFailed as failure:
                raise WalkFailed(f"{failure}{server_error(log_path)}") from None
        return walk.steps
    finally:
        cluster.remove()


def check_release(root: Path, serving_label: str | None, out=print, always: bool = False,
                  new_label: str | None = None) -> None:
    """Refuse (exit 2) unless the version serving now works on the schema this tree migrates to (or, given
    `new_label`, the schema that version's commit migrates to: a promotion deploys a version, not the tree)."""
    if not serving_label:
        out("gate: no version serves yet: nothing to check")
        return
    commit = commit_of(root, serving_label)
    new_commit = commit_of(root, new_label, "the version to deploy") if new_label else None
    if not always and same_migrations(root, commit, new_commit):
        out(f"gate: migrations/ is as {serving_label} has it: the schema does not change, nothing to check")
        return
    started = time.monotonic()
    out(f"gate: serving {serving_label} ({commit[:12]}) against "
        + (f"the migrations of {new_label} ({new_commit[:12]})" if new_commit else "this tree's migrations"))
    with tempfile.TemporaryDirectory(prefix="board-gate-") as workdir:
        old = export(root, commit, Path(workdir) / serving_label)
        new = export(root, new_commit, Path(workdir) / new_label) if new_commit else root
        try:
            steps = run(old, app_python(old / "requirements.txt", out), new,
                        app_python(new / "requirements.txt", out), out)
        except WalkFailed as failure:
            raise DeployError(f"refused by the gate: {serving_label}, which serves until its instances are "
                              f"replaced, breaks on the new schema: {failure}. Nothing was deployed; make the "
                              "migration backward compatible (docs/schema-changes.md)") from None
    out(f"gate: passed in {time.monotonic() - started:.0f} s ({len(steps)} steps on the new schema)")


def check_rollback(root: Path, serving_label: str, target_label: str, out=print) -> None:
    """Refuse unless `target_label`'s code works on the schema `serving_label` left (which stays)."""
    serving, target = commit_of(root, serving_label), commit_of(root, target_label, "the rollback's target")
    if same_migrations(root, target, serving):
        out(f"gate: {target_label} has the migrations of {serving_label}: the schema is its own, nothing to check")
        return
    out(f"gate: {target_label} ({target[:12]}) against the schema of {serving_label} ({serving[:12]})")
    with tempfile.TemporaryDirectory(prefix="board-gate-") as workdir:
        new = export(root, serving, Path(workdir) / serving_label)
        old = export(root, target, Path(workdir) / target_label)
        try:
            run(old, app_python(old / "requirements.txt", out), new, app_python(new / "requirements.txt", out), out,
                rollback=True)
        except WalkFailed as failure:
            raise DeployError(f"refused by the gate: {target_label} breaks on the schema {serving_label} left "
                              f"(migrations are not rolled back): {failure}") from None
    out("gate: passed")


def add_flag(command) -> None:
    """The command's way out, for a serving version whose commit is gone or a gate that cannot run here."""
    command.add_argument("--no-gate", action="store_true",
                         help="skip the compatibility gate (the serving version's code run against the new schema "
                              "on a throwaway PostgreSQL before anything is deployed)")
