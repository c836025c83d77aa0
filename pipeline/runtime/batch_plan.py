"""Batch planning for the farm command line (no bpy): which photos, which shard, what each
photo's outputs are called and where they go, what is already done, and which depth map goes
with which photo. The run's summary is :mod:`.batch_summary`.

Layout of an output folder ``DIR``::

    DIR/.oneshot3d-output              marker: this folder holds our outputs (never an input)
    DIR/<name>/<name>.blend            one folder per photo; <name> is the photo's stem
    DIR/<name>/<name>_<preset>.mp4     preset in lower case, e.g. photo_swing.mp4
    DIR/summary.json                   per photo: status, outputs, timings, error

``<name>`` is the photo's stem unless two photos share a stem (``a/x.jpg`` and ``b/x.jpg``,
or ``x.jpg`` and ``x.png``, compared case-insensitively): then it is the relative path with
``__`` between folders (``a__x``), with the suffix added if that still clashes (``x_jpg``).
Names depend only on the complete sorted photo list, so every shard agrees on them.

Sharding: :func:`shard` deals the sorted photo list round-robin (shard i of n takes photos
i, i+n, i+2n, ...), so shards get equal counts and every photo lands in exactly one shard, as
long as all shards see the same folder contents.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import DepthFileError, ImageReadError, SettingsError
from ..io.formats import PHOTO_SUFFIXES
from ..motion import PRESETS

OUTPUT_MARKER = ".oneshot3d-output"
# Depth maps pair with photos by stem; formats in order of preference (float formats first:
# they keep more precision than 8/16-bit PNG), matching pipeline.io.depth_file's readers.
DEPTH_SUFFIXES = (".npy", ".exr", ".tif", ".tiff", ".png")
DEPTH_NAME_PATTERNS = ("{stem}", "{stem}_depth", "{stem}-depth", "{stem}.depth")
# Folders that are never photo sources (macOS zip debris, version control).
_SKIP_DIRS = {"__macosx"}
_BAD_NAME_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f]')

T = TypeVar("T")


# --- finding photos -----------------------------------------------------------------------


def discover_photos(
    path: str | os.PathLike[str], exclude: Iterable[str | os.PathLike[str]] = ()
) -> list[Path]:
    """One photo, or every photo under a folder (recursively), in a stable sorted order.

    Photos are files whose suffix (any case) is one of ``io.formats.PHOTO_SUFFIXES``.
    Skipped: hidden files and folders (name starting with '.'), ``__MACOSX``, the folders in
    ``exclude`` (pass the output and depth folders) and any folder holding our output marker.
    The order sorts relative paths case-insensitively, folder by folder, so it is the same on
    every machine and file system.
    """
    root = Path(path)
    if not root.exists():
        raise ImageReadError(f"The photo or folder '{root}' does not exist.")
    if root.is_file():
        if root.suffix.lower() not in PHOTO_SUFFIXES:
            raise ImageReadError(
                f"'{root}' is not a supported photo ({', '.join(PHOTO_SUFFIXES)})."
            )
        return [root]
    excluded = {_real(p) for p in exclude}
    seen_dirs: set[str] = set()
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = _real(dirpath)
        # Symlinked folders are followed, but each real folder is read once (no loops).
        if real in seen_dirs or real in excluded or (Path(dirpath) / OUTPUT_MARKER).exists():
            dirnames[:] = []
            continue
        seen_dirs.add(real)
        dirnames[:] = [
            d for d in dirnames if not d.startswith(".") and d.casefold() not in _SKIP_DIRS
        ]
        for name in filenames:
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1].lower() in PHOTO_SUFFIXES:
                file = Path(dirpath) / name
                if file.is_file():
                    found.append(file)
    found.sort(key=lambda p: _sort_key(p.relative_to(root)))
    return found


def _sort_key(rel: Path) -> tuple[tuple[str, ...], str]:
    return tuple(part.casefold() for part in rel.parts), rel.as_posix()


def _real(p: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.realpath(p))


def shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Shard ``index`` of ``count``: items index, index + count, ... (round-robin)."""
    for name, value in (("--num-shards", count), ("--shard", index)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name} = {value!r}: must be a whole number.")
    if count < 1:
        raise SettingsError(f"--num-shards = {count}: must be at least 1.")
    if not 0 <= index < count:
        raise SettingsError(
            f"--shard = {index}: must be between 0 and {count - 1} (--num-shards {count})."
        )
    return list(items[index::count])


# --- output names and paths ----------------------------------------------------------------


def output_names(
    photos: Sequence[Path], root: str | os.PathLike[str] | None = None
) -> dict[Path, str]:
    """A unique output name per photo (see the module notes), stable for a given list."""
    root_path = Path(root) if root is not None else None

    def rel(p: Path) -> Path:
        if root_path is not None:
            try:
                return p.relative_to(root_path)
            except ValueError:
                pass
        return Path(p.name)

    def clean(s: str) -> str:
        return _BAD_NAME_CHARS.sub("_", s).strip(" .") or "photo"

    names = {p: clean(p.stem) for p in photos}
    for level in (1, 2):
        groups: dict[str, list[Path]] = {}
        for p, n in names.items():
            groups.setdefault(n.casefold(), []).append(p)
        for group in groups.values():
            if len(group) < 2:
                continue
            for p in group:
                r = rel(p)
                parts = list(r.with_suffix("").parts)
                if level == 2:
                    parts[-1] = r.name.replace(".", "_")
                names[p] = clean("__".join(parts))
    # Anything still clashing (pathological names) gets its position appended.
    taken: set[str] = set()
    for i, p in enumerate(photos):
        if names[p].casefold() in taken:
            names[p] = f"{names[p]}_{i}"
        taken.add(names[p].casefold())
    return names


@dataclass(frozen=True)
class OutputPaths:
    folder: Path
    blend: Path
    videos: dict[str, Path]  # preset (upper case) -> video path

    def all(self) -> list[Path]:
        return [self.blend, *self.videos.values()]


def normalise_presets(presets: Iterable[str] | str) -> list[str]:
    """Upper-case, de-duplicated, order kept; a comma-separated string is accepted."""
    if isinstance(presets, str):
        presets = [p for p in presets.split(",") if p.strip()]
    out: list[str] = []
    for p in presets:
        name = str(p).strip().upper()
        if name not in PRESETS:
            raise SettingsError(
                f"--presets: unknown preset {p!r}; choose from {', '.join(PRESETS)}."
            )
        if name not in out:
            out.append(name)
    return out


def output_paths(
    out_dir: str | os.PathLike[str],
    photo: str | os.PathLike[str],
    presets: Iterable[str] | str,
    name: str | None = None,
) -> OutputPaths:
    """``DIR/<name>/<name>.blend`` and ``DIR/<name>/<name>_<preset>.mp4`` per preset."""
    name = name or Path(photo).stem
    folder = Path(out_dir) / name
    videos = {p: folder / f"{name}_{p.lower()}.mp4" for p in normalise_presets(presets)}
    return OutputPaths(folder, folder / f"{name}.blend", videos)


def is_done(outputs: OutputPaths) -> bool:
    """True when every output exists and is not empty (the writer renames finished files
    into place, so an interrupted render leaves no full-size file behind)."""
    for p in outputs.all():
        try:
            if p.stat().st_size <= 0:
                return False
        except OSError:
            return False
    return True


def depth_for(
    photo: str | os.PathLike[str],
    depth_dir: str | os.PathLike[str],
    photo_root: str | os.PathLike[str] | None = None,
) -> Path | None:
    """The depth map for ``photo`` in ``depth_dir``, matched by stem, or None.

    Names tried, in order: ``<stem>``, ``<stem>_depth``, ``<stem>-depth``, ``<stem>.depth``,
    each with the suffixes of :data:`DEPTH_SUFFIXES` in that order (any case). When
    ``photo_root`` is given, the mirrored sub-folder (``depth_dir/<photo's folder relative to
    photo_root>``) is searched before ``depth_dir`` itself. The photo itself never matches
    (a PNG photo beside its JPG... twin is not a depth map of itself).
    """
    photo = Path(photo)
    depth_root = Path(depth_dir)
    if not depth_root.is_dir():
        raise DepthFileError(
            f"The depth folder '{depth_root}' does not exist or is not a folder; "
            "pass the folder that holds one depth map per photo."
        )
    folders = []
    if photo_root is not None:
        try:
            rel_parent = photo.parent.relative_to(Path(photo_root))
            if rel_parent.parts:
                folders.append(depth_root / rel_parent)
        except ValueError:
            pass
    folders.append(depth_root)
    me = _real(photo)
    for folder in folders:
        listing = _listing(folder)
        if not listing:
            continue
        for pattern in DEPTH_NAME_PATTERNS:
            base = pattern.format(stem=photo.stem)
            for suffix in DEPTH_SUFFIXES:
                hit = listing.get((base + suffix).casefold())
                if hit is not None and _real(folder / hit) != me:
                    return folder / hit
    return None


_LISTINGS: dict[tuple[str, int], dict[str, str]] = {}


def _listing(folder: Path) -> dict[str, str]:
    """casefolded file name -> real name, cached per folder version (mtime) so pairing a
    folder of N photos reads each depth folder once, not N times."""
    try:
        key = (str(folder), folder.stat().st_mtime_ns)
    except OSError:
        return {}
    cached = _LISTINGS.get(key)
    if cached is None:
        if len(_LISTINGS) > 256:
            _LISTINGS.clear()
        cached = {}
        with os.scandir(folder) as it:
            for entry in sorted(it, key=lambda e: e.name):  # stable pick among case twins
                if entry.is_file():
                    cached.setdefault(entry.name.casefold(), entry.name)
        _LISTINGS[key] = cached
    return cached


# --- planning a run ------------------------------------------------------------------------


@dataclass
class BatchItem:
    index: int  # position in the complete sorted list (all shards)
    photo: Path
    name: str
    outputs: OutputPaths
    done: bool = False  # every output already there (skip unless overwriting)
    depth: Path | None = None
    total: int = 0  # photos in all shards together


def _inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (after resolving links)."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
        return True
    except ValueError:
        return False


def check_output_folder(source: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> None:
    """Refuse an output folder that would mix our outputs (and the marker that hides a folder
    from later runs) into the user's photos: the photo folder itself or a folder inside it; for
    a single photo, the folder that holds it."""
    src = Path(source)
    folder = src if src.is_dir() else src.parent
    if src.is_dir() and _inside(out_dir, folder):
        raise SettingsError(
            f"--output '{out_dir}' is inside the photo folder '{folder}'; choose an output "
            "folder outside it (outputs would be mixed with the photos)."
        )
    if not src.is_dir() and _inside(folder, out_dir) and _inside(out_dir, folder):
        raise SettingsError(
            f"--output '{out_dir}' is the folder that holds the photo; choose another folder "
            "(outputs would be mixed with the photos)."
        )


def plan_batch(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    presets: Iterable[str] | str,
    shard_index: int = 0,
    shard_count: int = 1,
    overwrite: bool = False,
    depth_dir: str | os.PathLike[str] | None = None,
    depth_file: str | os.PathLike[str] | None = None,
) -> list[BatchItem]:
    """This shard's work: photos under ``source`` with names, outputs, resume state and depth
    (``depth_file`` for a single photo, else the map paired from ``depth_dir``). Without
    presets a photo is done when its .blend exists.

    Raises SettingsError for an output folder inside the photos (``check_output_folder``), a
    depth file given for a folder, and when there are no photos at all."""
    presets = normalise_presets(presets)
    src = Path(source)
    if depth_file and src.is_dir():
        raise SettingsError(
            f"--depth names one depth file but '{src}' is a folder; use --depth-dir for folders."
        )
    if src.exists():
        check_output_folder(src, out_dir)
    exclude: list[str | os.PathLike[str]] = [out_dir]
    if depth_dir is not None and not _inside(src, depth_dir):
        exclude.append(depth_dir)  # a separate depth folder never holds photos
    photos = discover_photos(src, exclude=exclude)
    if not photos:
        raise SettingsError(f"No photos found in '{src}' ({', '.join(PHOTO_SUFFIXES)}).")
    root = src if src.is_dir() else src.parent
    names = output_names(photos, root)
    items = [
        BatchItem(i, p, names[p], output_paths(out_dir, p, presets, names[p]), total=len(photos))
        for i, p in enumerate(photos)
    ]
    mine = shard(items, shard_index, shard_count)
    for item in mine:
        item.done = not overwrite and is_done(item.outputs)
        if depth_file:
            item.depth = Path(depth_file)
        elif depth_dir is not None:
            item.depth = depth_for(item.photo, depth_dir, root)
    return mine
