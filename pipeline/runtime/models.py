"""Model files: where they come from, where they live, and how they are checked before use.

Every model the pipeline can download is listed in ``CATALOGUE`` with its official URL and,
where known, its exact size and sha256. Rules this module enforces:

* A downloaded file is written to a temporary ``.part`` file next to its destination and
  renamed only after its size and sha256 match the catalogue, so an interrupted or corrupted
  download never leaves a file that is later trusted.
* A file found on disk is trusted only when its size and sha256 match. Catalogue entries whose
  hash is not pinned (``sha256 is None``: the optional, non-commercial Depth Anything V2
  Base/Large) are never downloaded and never taken from the cache folder; they are used only
  from a folder the user names explicitly (``model_dir`` or ``ONESHOT3D_MODEL_DIR``), and
  like every state_dict they are read only through ``torch.load(..., weights_only=True)``.
* Nothing is ever unpickled without ``weights_only=True`` (see ``safe_torch_load``).

Search order of ``resolve_model``: the explicit ``model_dir``, then ``$ONESHOT3D_MODEL_DIR``
(tests, render farms, offline machines), then the cache folder (``default_cache_dir()``, or
the folder the Blender layer passes, i.e. ``bpy.utils.extension_path_user``).

Only the standard library is imported here (torch lazily in ``safe_torch_load``).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError

MODEL_DIR_ENV = "ONESHOT3D_MODEL_DIR"

# progress(done_bytes, total_bytes) -> None/True to go on, False to cancel (raising also cancels).
ProgressFn = Callable[[int, int], "bool | None"]

_TIEFENRAUSCH_COMMIT = "ff094d02bb519d228170a9bad068adaf9fca18ca"
_TIEFENRAUSCH_RAW = (
    f"https://github.com/facebookresearch/one_shot_3d_photography/raw/{_TIEFENRAUSCH_COMMIT}/model/"
)
_DAV2_HF = "https://huggingface.co/depth-anything/Depth-Anything-V2-{size}/resolve/main/"


@dataclass(frozen=True)
class ModelInfo:
    name: str  # catalogue key
    filename: str  # file name on disk (in a model folder or the cache folder)
    url: str  # official source
    size: int | None  # bytes; None = not pinned
    sha256: str | None  # lowercase hex; None = not pinned (never downloaded, see module doc)
    licence: str
    label: str  # human-readable, shown in the UI
    note: str = ""  # shown next to the download button (e.g. the non-commercial licence)

    @property
    def pinned(self) -> bool:
        return self.size is not None and self.sha256 is not None

    @property
    def size_text(self) -> str:
        return f"{self.size / 1e6:.1f} MB" if self.size else "size unknown"


_ENTRIES = (
    ModelInfo(
        name="tiefenrausch",
        filename="tiefenrausch.pb",
        url=_TIEFENRAUSCH_RAW + "tiefenrausch.pb",
        size=50464,
        sha256="7fd8d7eb5948fe8fe9ae0a5c67792a5553f09a26572be5ccc1f0584db15d2034",
        licence="MIT",
        label="Tiefenrausch network graph (One Shot 3D Photography)",
    ),
    ModelInfo(
        name="tiefenrausch_init",
        filename="tiefenrausch_init.pb",
        url=_TIEFENRAUSCH_RAW + "tiefenrausch_init.pb",
        size=3777421,
        sha256="8595624b4ac3d639d5f769fc95d7e0c5f2caa9c9edb356110a533acbb30b50af",
        licence="MIT",
        label="Tiefenrausch weights (One Shot 3D Photography)",
    ),
    ModelInfo(
        name="depth_anything_v2_vits",
        filename="depth_anything_v2_vits.pth",
        url=_DAV2_HF.format(size="Small") + "depth_anything_v2_vits.pth",
        size=99_218_434,
        sha256="715fade13be8f229f8a70cc02066f656f2423a59effd0579197bbf57860e1378",
        licence="Apache-2.0",
        label="Depth Anything V2 Small",
    ),
    ModelInfo(
        name="depth_anything_v2_vitb",
        filename="depth_anything_v2_vitb.pth",
        url=_DAV2_HF.format(size="Base") + "depth_anything_v2_vitb.pth",
        size=None,
        sha256=None,
        licence="CC-BY-NC-4.0",
        label="Depth Anything V2 Base (non-commercial)",
        note=(
            "Licence CC-BY-NC-4.0: non-commercial use only. Not downloaded automatically: "
            "download it yourself and put it in your model folder."
        ),
    ),
    ModelInfo(
        name="depth_anything_v2_vitl",
        filename="depth_anything_v2_vitl.pth",
        url=_DAV2_HF.format(size="Large") + "depth_anything_v2_vitl.pth",
        size=None,
        sha256=None,
        licence="CC-BY-NC-4.0",
        label="Depth Anything V2 Large (non-commercial)",
        note=(
            "Licence CC-BY-NC-4.0: non-commercial use only. Not downloaded automatically: "
            "download it yourself and put it in your model folder."
        ),
    ),
)

CATALOGUE: dict[str, ModelInfo] = {info.name: info for info in _ENTRIES}


def get_info(name: str) -> ModelInfo:
    """Catalogue entry by key (``"depth_anything_v2_vits"``) or file name (``"....pth"``)."""
    info = CATALOGUE.get(name)
    if info is None:
        info = next((i for i in CATALOGUE.values() if i.filename == name), None)
    if info is None:
        known = ", ".join(sorted(CATALOGUE))
        raise ModelError(f"Unknown model {name!r}; the catalogue has: {known}.")
    return info


def default_cache_dir() -> Path:
    """Per-user cache folder for downloaded models when running outside Blender (the Blender
    layer passes ``bpy.utils.extension_path_user(...)`` instead). Not created here."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "oneshot3d" / "models"


# --- hashing ----------------------------------------------------------------------------------

# (resolved path, size, mtime_ns) -> sha256 of files already hashed in this process, so that
# resolving a 100 MB model on every import does not re-read it. A changed file changes its
# size or mtime and is hashed again.
_VERIFIED: dict[tuple[str, int, int], str] = {}
_VERIFIED_LOCK = threading.Lock()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cached_sha256(path: str | os.PathLike[str]) -> str:
    """``sha256_file``, kept per path, size and mtime: a file checked once in this process
    (the model files before every job) is not read again."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(key)
    if known is None:
        known = sha256_file(path)
        with _VERIFIED_LOCK:
            _VERIFIED[key] = known
    return known


def remember_verified(path: Path, info: ModelInfo) -> None:
    """Note that ``path`` as it is now (size, mtime) has ``info``'s hash, e.g. right after a
    download that hashed it on the way, so the next check does not read it again."""
    st = path.stat()
    with _VERIFIED_LOCK:
        _VERIFIED[(str(path.resolve()), st.st_size, st.st_mtime_ns)] = str(info.sha256)


def verify_file(path: str | os.PathLike[str], info: ModelInfo) -> bool:
    """True when ``path`` has the catalogue's size and sha256 (False for unpinned entries)."""
    path = Path(path)
    if not info.pinned:
        return False
    try:
        if path.stat().st_size != info.size:
            return False  # cheap check first: a truncated file is never hashed
        return cached_sha256(path) == info.sha256
    except OSError:
        return False


# --- finding files ----------------------------------------------------------------------------


def _candidates(model_dir: str, cache_dir: str | os.PathLike[str] | None) -> list[tuple[str, Path]]:
    """(kind, folder) in search order; kind is 'explicit' (user-named) or 'cache'."""
    folders: list[tuple[str, Path]] = []
    if model_dir:
        folders.append(("explicit", Path(model_dir).expanduser()))
    env = os.environ.get(MODEL_DIR_ENV, "")
    if env:
        folders.append(("explicit", Path(env).expanduser()))
    folders.append(("cache", Path(cache_dir) if cache_dir else default_cache_dir()))
    return folders


def find_model(
    name: str, model_dir: str = "", cache_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """Like ``resolve_model`` but returns None instead of raising when no trusted file exists
    (for UI status lines)."""
    try:
        return resolve_model(name, model_dir, cache_dir)
    except ModelError:
        return None


def locate_model(
    name: str, model_dir: str = "", cache_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """The file ``resolve_model`` would look at first, judged by its size only (no hashing):
    cheap enough for a preferences panel that redraws often. None when there is none; the
    hash is still checked when the model is used."""
    info = get_info(name)
    for kind, folder in _candidates(model_dir, cache_dir):
        path = folder / info.filename
        try:
            size = path.stat().st_size
        except OSError:
            continue
        if not info.pinned:
            if kind == "explicit":
                return path
        elif size == info.size:
            return path
    return None


def resolve_model(
    name: str, model_dir: str = "", cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Path of a trusted local copy of catalogue model ``name``.

    Looks in ``model_dir``, ``$ONESHOT3D_MODEL_DIR`` and the cache folder, in that order.
    Pinned files must match size and sha256 (a mismatch raises: it names the file so the user
    can delete it). Unpinned files are accepted only from the two user-named folders.
    Raises ModelError that says where it looked and how to get the file.
    """
    info = get_info(name)
    looked: list[str] = []
    for kind, folder in _candidates(model_dir, cache_dir):
        path = folder / info.filename
        looked.append(f"{path} ({'model folder' if kind == 'explicit' else 'download cache'})")
        if not path.is_file():
            continue
        if not info.pinned:
            if kind == "explicit":
                return path
            continue  # an unpinned file in the cache was not put there by us: ignore it
        if verify_file(path, info):
            return path
        raise ModelError(
            f"The model file '{path}' is damaged or not the official {info.label} "
            f"(expected {info.size} bytes with sha256 {info.sha256}). Delete it and "
            f"download it again from {info.url}."
        )
    if info.pinned:
        how = (
            f"Download it from the add-on preferences (Download models), or download {info.url} "
            f"yourself and put it in a folder that you set as the model folder "
            f"(or in ${MODEL_DIR_ENV})."
        )
    else:
        how = (
            f"{info.note} Download {info.url} and put '{info.filename}' in the model folder "
            f"(or in ${MODEL_DIR_ENV})."
        )
    raise ModelError(
        f"Model '{info.filename}' ({info.label}, {info.size_text}, licence {info.licence}) "
        f"was not found. Looked in: {'; '.join(looked)}. {how}"
    )


# --- loading ----------------------------------------------------------------------------------


def safe_torch_load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a state_dict with ``torch.load(..., weights_only=True)`` only: a pickle that tries
    to run code (or holds anything but tensors and plain containers) is refused with a
    ModelError instead of being executed."""
    import pickle

    import torch

    path = os.fspath(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"The model file '{path}' does not exist.") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(
            f"Refusing to load '{path}': it is not a plain weights file that can be read "
            f"safely ({first}). Delete it and download the official file."
        ) from None
    if not isinstance(state, dict):
        raise ModelError(f"'{path}' does not hold a state_dict (found {type(state).__name__}).")
    return state
