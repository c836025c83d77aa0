"""Fetch the bundled wheels and build + validate the extension zips with Blender's own tool.

    python scripts/build_extension.py [--output-dir dist] [--skip-download]

Blender's extension tool (``blender_ext.py``) ships inside the ``bpy`` wheel and runs with plain
Python. The wheels named in ``blender_manifest.toml`` are downloaded from the package index
into ``wheels/`` (never committed). One zip per platform is written, then each is validated;
any failure (bad manifest, missing wheel, invalid zip) exits non-zero.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL_RE = re.compile(
    r"^(?P<dist>[^-]+)-(?P<ver>[^-]+)-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)


def blender_ext_tool() -> Path:
    """Path of blender_ext.py inside the installed bpy wheel (imports nothing from bpy)."""
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        sys.exit("The bpy module is not installed: pip install bpy==5.0.1")
    base = Path(spec.origin).parent
    found = sorted(base.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        sys.exit(f"blender_ext.py not found under {base}")
    return found[-1]


def download_wheels(manifest: dict, wheels_dir: Path) -> None:
    wheels_dir.mkdir(exist_ok=True)
    for entry in manifest.get("wheels", []):
        name = Path(entry).name
        if (wheels_dir / name).exists():
            continue
        m = WHEEL_RE.match(name)
        if not m:
            sys.exit(f"Cannot parse wheel file name {name!r} in blender_manifest.toml")
        # A multi-tag platform such as manylinux_2_17_x86_64.manylinux2014_x86_64: any one works.
        platform = m["plat"].split(".")[-1]
        # cp313 -> 3.13; an abi3 wheel (cp37-abi3) works on the oldest Python Blender runs.
        tag = m["py"]
        python = f"{tag[2]}.{tag[3:]}" if tag.startswith("cp3") and m["abi"] != "abi3" else "3.11"
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            platform,
            "--python-version",
            python,
            "--dest",
            str(wheels_dir),
            f"{m['dist']}=={m['ver']}",
        ]
        print("downloading", name, flush=True)
        subprocess.run(cmd, check=True)
        if not (wheels_dir / name).exists():
            sys.exit(
                f"pip did not produce {name}; found: {sorted(p.name for p in wheels_dir.iterdir())}"
            )


def run_tool(tool: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True)
    print(result.stdout, end="")
    if result.returncode != 0:
        print(result.stderr, end="", file=sys.stderr)
        sys.exit(f"blender_ext {args[0]} failed (exit {result.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, default=ROOT)
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--skip-download", action="store_true")
    args = parser.parse_args(argv)

    manifest_path = args.source_dir / "blender_manifest.toml"
    try:
        manifest = tomllib.loads(manifest_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        sys.exit(f"Cannot read {manifest_path}: {e}")
    if not args.skip_download:
        download_wheels(manifest, args.source_dir / "wheels")

    tool = blender_ext_tool()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for old in args.output_dir.glob(f"{manifest.get('id', '*')}-*.zip"):
        old.unlink()
    run_tool(
        tool,
        "build",
        "--source-dir",
        str(args.source_dir),
        "--output-dir",
        str(args.output_dir),
        "--split-platforms",
    )
    zips = sorted(args.output_dir.glob("*.zip"))
    if not zips:
        sys.exit("blender_ext build wrote no zip")
    for z in zips:
        run_tool(tool, "validate", str(z))
    print("\n".join(str(z) for z in zips))
    return 0


if __name__ == "__main__":
    sys.exit(main())
