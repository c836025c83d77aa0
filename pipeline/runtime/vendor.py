"""The vendored environment: torch (and what else the pipeline needs but the extension cannot
bundle) installed with Blender's own interpreter and pip into a folder of the extension's
user directory, never into Blender's own site-packages.

No bpy here. The Blender operator (``operators/install_deps.py``) passes
``bpy.utils.extension_path_user(__package__, create=True)`` as ``root``; the environment is
``root/vendor``. Installation goes to ``root/vendor.partial`` and is renamed into place only
when pip succeeds, so a failed or cancelled install never leaves half an environment behind.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io.atomic import rename_into_place

VENDOR_DIR = "vendor"
PARTIAL_SUFFIX = ".partial"

# torch builds against numpy 2 since 2.3 but keeps working with numpy 1.26, which Blender
# 4.2-5.0 ships; numpy itself is never installed here (the constraint below makes pip fail
# instead of pulling a second numpy if some package asked for another one). No Python tag is
# given: pip runs with Blender's own interpreter and takes the wheel for it (cp311 on 4.2-5.0,
# cp313 from 5.1, where torch wheels start at 2.5 and numpy is 2.x).
TORCH_SPEC = "torch>=2.4,<3"


@dataclass(frozen=True)
class Variant:
    key: str  # enum identifier in Blender
    label: str
    description: str
    index_url: str  # "" = the default package index
    platforms: tuple[str, ...]  # sys.platform prefixes where the variant exists


VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant(
            "CPU",
            "CPU",
            "Smallest download (~200 MB); works everywhere",
            "https://download.pytorch.org/whl/cpu",
            ("linux", "win32"),
        ),
        Variant(
            "CUDA",
            "NVIDIA CUDA",
            "NVIDIA GPUs (CUDA 12.6 build, ~2.5 GB with its libraries)",
            "https://download.pytorch.org/whl/cu126",
            ("linux", "win32"),
        ),
        Variant(
            "ROCM",
            "AMD ROCm",
            "AMD GPUs on Linux (ROCm 6.3 build)",
            "https://download.pytorch.org/whl/rocm6.3",
            ("linux",),
        ),
        Variant(
            "MPS",
            "Apple Metal (MPS)",
            "Apple Silicon GPUs: the default macOS build includes Metal support",
            "",
            ("darwin",),
        ),
    )
}


def available_variants(platform: str = sys.platform) -> list[Variant]:
    """The variants that exist for ``platform``; on macOS the default build is the CPU one."""
    out = [v for v in VARIANTS.values() if any(platform.startswith(p) for p in v.platforms)]
    if platform.startswith("darwin"):
        out.insert(0, Variant("CPU", "CPU", "The default macOS build", "", ("darwin",)))
    return out


def vendor_dir(root: str | os.PathLike[str]) -> Path:
    return Path(root) / VENDOR_DIR


def staging_dir(root: str | os.PathLike[str]) -> Path:
    return Path(root) / (VENDOR_DIR + PARTIAL_SUFFIX)


def requirements(variant: str = "CPU") -> list[str]:
    """What the pipeline needs beyond Blender + the bundled OpenCV wheel."""
    return [TORCH_SPEC]


def constraints_text(numpy_version: str) -> str:
    return f"numpy=={numpy_version}\n"


def pip_install_command(
    root: str | os.PathLike[str],
    *,
    variant: str = "CPU",
    packages: Sequence[str] | None = None,
    constraints_file: str | os.PathLike[str] | None = None,
    find_links: str | os.PathLike[str] | None = None,
    no_index: bool = False,
    platform: str = sys.platform,
) -> list[str]:
    """Arguments after ``python -m`` for the install (``["pip", "install", ...]``), into the
    staging folder. ``find_links`` + ``no_index`` install from a local wheel folder (offline
    installs, tests)."""
    args = [
        "pip",
        "install",
        "--target",
        str(staging_dir(root)),
        "--upgrade",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--progress-bar",
        "off",
    ]
    if constraints_file:
        args += ["--constraint", str(constraints_file)]
    if no_index:
        args.append("--no-index")
    if find_links:
        args += ["--find-links", str(find_links)]
    if not no_index:
        chosen = next((v for v in available_variants(platform) if v.key == variant), None)
        if chosen is None:
            known = ", ".join(v.key for v in available_variants(platform))
            raise ValueError(f"The torch variant {variant!r} does not exist here; choose {known}")
        if chosen.index_url:
            # torch from its own index, its dependencies (sympy, ...) from the default one.
            args += [
                "--index-url",
                chosen.index_url,
                "--extra-index-url",
                "https://pypi.org/simple",
            ]
    args += list(packages if packages is not None else requirements(variant))
    return args


_COLLECTING = re.compile(r"^(Collecting|Processing|Looking in|Downloading|Using cached)\b")


def parse_pip_line(line: str) -> dict[str, Any] | None:
    """pip's output as protocol messages: rough progress, since pip has no machine output."""
    text = line.strip()
    if _COLLECTING.match(text):
        return {"type": "progress", "stage": "download", "fraction": 0.2, "message": text[:120]}
    if text.startswith("Installing collected packages"):
        return {"type": "progress", "stage": "install", "fraction": 0.7, "message": text[:120]}
    if text.startswith("Successfully installed"):
        return {"type": "progress", "stage": "done", "fraction": 1.0, "message": text[:120]}
    if text.startswith("ERROR:"):
        return {"type": "error", "kind": "PipError", "message": text[6:].strip()}
    return None


def commit_staging(root: str | os.PathLike[str]) -> Path:
    """Replace the environment with the freshly installed staging folder."""
    final, staged = vendor_dir(root), staging_dir(root)
    if not staged.is_dir():
        raise FileNotFoundError(f"Nothing was installed into {staged}")
    old = final.with_name(VENDOR_DIR + ".old")
    shutil.rmtree(old, ignore_errors=True)
    # Renames of whole folders: on Windows a scanner or indexer may still hold a file in them.
    if final.exists():
        rename_into_place(final, old)
    rename_into_place(staged, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def discard_staging(root: str | os.PathLike[str]) -> None:
    shutil.rmtree(staging_dir(root), ignore_errors=True)


def remove(root: str | os.PathLike[str]) -> bool:
    """Delete the vendored environment; True when there was one."""
    final = vendor_dir(root)
    existed = final.exists()
    shutil.rmtree(final, ignore_errors=True)
    discard_staging(root)
    return existed


@dataclass
class VendorStatus:
    path: Path
    installed: bool
    packages: dict[str, str] = field(default_factory=dict)  # distribution name -> version
    size_bytes: int = 0

    @property
    def torch_version(self) -> str:
        return self.packages.get("torch", "")

    def summary(self) -> str:
        if not self.installed:
            return "Not installed"
        torch = f"torch {self.torch_version}" if self.torch_version else "no torch"
        return f"{torch}, {len(self.packages)} packages, {self.size_bytes / 1e6:.0f} MB"


def _metadata(dist_info: Path) -> tuple[str, str] | None:
    try:
        text = (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    name = re.search(r"^Name:\s*(.+)$", text, re.M)
    version = re.search(r"^Version:\s*(.+)$", text, re.M)
    if not name or not version:
        return None
    return name.group(1).strip().lower().replace("_", "-"), version.group(1).strip()


def status(root: str | os.PathLike[str], measure_size: bool = True) -> VendorStatus:
    """What is installed, read from the ``*.dist-info`` folders (imports nothing)."""
    folder = vendor_dir(root)
    if not folder.is_dir():
        return VendorStatus(folder, False)
    packages = dict(filter(None, (_metadata(p) for p in sorted(folder.glob("*.dist-info")))))
    size = 0
    if measure_size:
        for dirpath, _, files in os.walk(folder):
            for f in files:
                try:
                    size += os.path.getsize(os.path.join(dirpath, f))
                except OSError:
                    pass
    return VendorStatus(folder, True, packages, size)
