"""The source bundle, built from `.ebignore` exactly as the EB CLI builds it.

The EB CLI reads `.ebignore` with gitwildmatch rules (pathspec), drops every
matching file, the `.elasticbeanstalk/` folder, editor backups (`*~`) and
`.ebignore` itself, and zips the rest keeping file modes (the hooks' executable
bit matters on the instance).
"""

from __future__ import annotations

import os
import shutil
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


def write_bundle(root: Path, destination: Path, files: list[str] | None = None,
                 generated: dict[str, bytes] | None = None) -> Path:
    """Zip the bundle files to `destination`, modes kept, times fixed so equal trees give equal zips; `generated`
    adds files made for this bundle (name → bytes, mode 644). Files are streamed, never held whole in memory.
    The one writer of both bundle kinds (source, and image: deploy/image.py)."""
    root, destination = Path(root), Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted((generated or {}).items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
        for relative in bundle_files(root) if files is None else files:
            source = root / relative
            info = zipfile.ZipInfo(relative, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (source.stat().st_mode & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(source, "rb") as reader, archive.open(info, "w") as writer:
                shutil.copyfileobj(reader, writer, 1024 * 1024)
    return destination
