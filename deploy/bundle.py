"""The source bundle, built from `.ebignore` exactly as the EB CLI builds it.

The EB CLI reads `.ebignore` with gitwildmatch rules (pathspec), drops every
matching file, the `.elasticbeanstalk/` folder, editor backups (`*~`) and
`.ebignore` itself, and zips the rest keeping file modes (the hooks' executable
bit matters on the instance). Here the zip is reproducible: modes as git
records them (644, or 755 for executables), fixed times, sorted names.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

from pathspec import PathSpec

from .errors import DeployError

IGNORE_FILE = ".ebignore"


def ignored_by(root: Path) -> PathSpec:
    path = root / IGNORE_FILE
    if not path.is_file():
        raise DeployError(f"{path} is missing: without it the bundle would hold the whole tree")
    return PathSpec.from_lines("gitwildmatch", path.read_text(encoding="utf-8").splitlines())


def _ignored_whole(spec: PathSpec, folder: str) -> bool:
    """Whether every file below `folder` is ignored: the folder matches and no `!pattern` could
    bring a file back (erring towards no)."""
    return spec.match_file(folder + "/") and not _reopened_below(spec, folder)


def _reopened_below(spec: PathSpec, folder: str) -> bool:
    top = folder.split("/", 1)[0]
    for pattern in spec.patterns:
        if pattern.include is not False:
            continue
        text = pattern.pattern.lstrip("!")
        anchored = text.startswith("/") or "/" in text.rstrip("/")
        first = text.lstrip("/").split("/", 1)[0]
        if not anchored or any(glob in first for glob in "*?[\\") or first == top:
            return True
    return False


def bundle_files(root: Path) -> list[str]:
    """Paths (relative, with /) that go into the bundle, sorted."""
    root = Path(root)
    spec = ignored_by(root)
    chosen = []
    for folder, dirs, files in os.walk(root):
        relative_folder = Path(folder).relative_to(root)
        if ".elasticbeanstalk" in relative_folder.parts:
            continue
        # The EB CLI matches every file, .venv/ and node_modules/ too; skipping folders
        # ignored whole (no `!` line reaching in) picks the same files without the walk.
        dirs[:] = sorted(name for name in dirs if not _ignored_whole(spec, (relative_folder / name).as_posix()))
        for name in files:
            relative = (relative_folder / name).as_posix()
            if name.endswith("~") or relative == IGNORE_FILE or spec.match_file(relative):
                continue
            chosen.append(relative)
    return sorted(chosen)


def total_size(root: Path, files: list[str]) -> int:
    return sum((Path(root) / relative).stat().st_size for relative in files)


# Fixed for every member: the bytes depend on the commit alone, never on the umask, the checkout time or the zip
# library. Stored, not deflated: deflate's output differs between zlib builds (zlib-ng, Apple's), the hash not.
MEMBER_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
REGULAR, EXECUTABLE = 0o100644, 0o100755  # the two modes git records for a file
UNIX = 3  # "made on Unix": unzip then applies the mode bits


def member(name: str, executable: bool) -> zipfile.ZipInfo:
    """A zip entry that says nothing of the machine that made it."""
    info = zipfile.ZipInfo(name, date_time=MEMBER_TIME)
    info.create_system = UNIX
    info.external_attr = (EXECUTABLE if executable else REGULAR) << 16
    info.compress_type = zipfile.ZIP_STORED
    return info


def executable(path: Path) -> bool:
    """Git's rule: executable when the owner may execute it (so 0700 under umask 077 is 0755, as git has it)."""
    return bool(path.stat().st_mode & stat.S_IXUSR)


def write_zip(destination: Path, members: dict[str, Path | bytes]) -> Path:
    """A reproducible zip of `members` (name in the zip → a file, streamed, or bytes made for it, mode 644),
    in name order: the one writer of every bundle kind."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w") as archive:
        for name in sorted(members):
            source = members[name]
            if isinstance(source, bytes):
                archive.writestr(member(name, executable=False), source)
                continue
            with open(source, "rb") as reader, archive.open(member(name, executable(source)), "w") as writer:
                shutil.copyfileobj(reader, writer, 1024 * 1024)
    return destination


def write_bundle(root: Path, destination: Path, files: list[str] | None = None,
                 generated: dict[str, bytes] | None = None) -> Path:
    """Zip the bundle files to `destination`, with `generated` (name → bytes made for this bundle, as the image
    bundle's Dockerrun.aws.json): one commit, the same bytes on any machine (see `write_zip`)."""
    root = Path(root)
    members: dict[str, Path | bytes] = {relative: root / relative
                                        for relative in (bundle_files(root) if files is None else files)}
    return write_zip(destination, {**members, **(generated or {})})
