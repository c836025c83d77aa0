"""The batch command line: the ``blender --command oneshot3d`` handler in-process and
scripts/oneshot3d.py as a real subprocess, on folders with a corrupt photo, with shards."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import read_video

pytestmark = pytest.mark.blender
ROOT = Path(__file__).resolve().parents[2]
TINY = ["--samples", "2", "--resolution-scale", "25", "--frames", "4"]


def ext(extension, name: str):
    """A submodule of the installed extension, e.g. ext(installed_extension, "blender.cli_args")."""
    return importlib.import_module(f"{extension.__name__}.{name}")


def make_folder(tmp_path: Path, sample_photo: Path, sample_depth: Path, names: list[str]):
    """Photos (copies of the sample) under ``photos/``, depth maps under ``depth/``, and a
    corrupt ``photos/broken.jpg`` with a depth map of its own."""
    photos, depth = tmp_path / "photos", tmp_path / "depth"
    for name in names:
        (photos / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_photo, photos / name)
        (depth / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_depth, (depth / name).with_name(Path(name).stem + "_depth.npy"))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    shutil.copy(sample_depth, depth / "broken.npy")
    return photos, depth


def read_summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def by_name(summary: dict) -> dict[str, dict]:
    return {Path(p["photo"]).name: p for p in summary["photos"]}


def test_parser_presets_and_options(installed_extension):
    cli_args = ext(installed_extension, "blender.cli_args")
    args = cli_args.build_parser().parse_args(
        ["x", "-o", "y", "--presets", "SWING,circle", "--preset", "zoom_in", "--preset", "SWING"]
        + ["--engine", "cycles", "--shard", "1", "--num-shards", "3", "--mesh-mode", "torn"]
    )
    assert cli_args.presets_of(args) == ["SWING", "CIRCLE", "ZOOM_IN"]
    assert (args.engine, args.shard, args.num_shards, args.mesh_mode) == ("CYCLES", 1, 3, "TORN")
    keywords = cli_args.pipeline_keywords(args, Path("x.jpg"))
    assert keywords["depth_backend"] == args.auto_backend  # no depth given: a network
    args = cli_args.build_parser().parse_args(["x", "-o", "y", "--depth-dir", "d"])
    assert cli_args.pipeline_keywords(args, Path("x.jpg"), Path("d/x.npy"))["depth_backend"] == (
        "FILE"
    )


def test_cli_command_registered(installed_extension):
    import bpy

    if not hasattr(bpy.utils, "register_cli_command"):
        pytest.skip("this Blender has no register_cli_command (before 4.2)")
    assert ext(installed_extension, "operators.cli_command")._handle is not None


def test_folder_with_corrupt_photo_then_resume(
    empty_scene, installed_extension, tmp_path, sample_photo, sample_depth
):
    handler = ext(installed_extension, "operators.cli_command").handler
    photos, depth = make_folder(tmp_path, sample_photo, sample_depth, ["a.png", "sub/b.png"])
    out = tmp_path / "out"
    argv = [str(photos), "-o", str(out), "--depth-dir", str(depth), "--depth-kind", "depth"]
    argv += ["--preset", "SWING", *TINY]
    assert handler(argv) == 1  # one photo failed

    summary = read_summary(out)
    photos_by_name = by_name(summary)
    assert summary["counts"] == {"ok": 2, "failed": 1, "skipped": 0}
    broken = photos_by_name["broken.jpg"]
    assert broken["status"] == "failed" and "broken.jpg" in broken["error"]
    assert not (out / "broken" / "broken.blend").exists()
    for stem in ("a", "b"):
        entry = photos_by_name[f"{stem}.png"]
        assert entry["status"] == "ok" and entry["error"] is None
        assert {"mesh", "save", "render_swing", "total"} <= set(entry["timings"])
        # How far the camera may move on this photo without holes, per direction, as a
        # fraction of its focus distance (the presets' unit).
        assert set(entry["safe_motion"]) == {"right", "left", "up", "down"}
        assert all(0.0 < v <= 1.0 for v in entry["safe_motion"].values())
        blend, video = out / stem / f"{stem}.blend", out / stem / f"{stem}_swing.mp4"
        assert {str(blend), str(video)} <= set(entry["outputs"])
        assert blend.stat().st_size > 100_000
        cap = cv2.VideoCapture(str(video))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
        cap.release()
    assert not list(out.rglob("*.part*"))

    # Re-run: finished photos are skipped, the broken one is tried (and fails) again.
    mtime = (out / "a" / "a_swing.mp4").stat().st_mtime_ns
    assert handler(argv) == 1
    summary = read_summary(out)
    assert summary["counts"] == {"ok": 0, "failed": 1, "skipped": 2}
    assert (out / "a" / "a_swing.mp4").stat().st_mtime_ns == mtime
    # --overwrite redoes them.
    assert handler(argv + ["--overwrite", "--no-preview"]) == 1
    assert read_summary(out)["counts"] == {"ok": 2, "failed": 1, "skipped": 0}


def test_shards_cover_every_photo_once(
    empty_scene, installed_extension, tmp_path, sample_photo, sample_depth
):
    handler = ext(installed_extension, "operators.cli_command").handler
    names = ["a.png", "b.png", "sub/c.png", "sub/deeper/d.png", "e.png"]
    photos, depth = make_folder(tmp_path, sample_photo, sample_depth, names)
    out = tmp_path / "out"
    base = [str(photos), "-o", str(out), "--depth-dir", str(depth), "--depth-kind", "depth"]
    base += ["--no-preview", "--mesh-mode", "torn"]
    codes = [handler(base + ["--shard", str(i), "--num-shards", "3"]) for i in range(3)]
    assert codes == [1 if "broken.jpg" in s else 0 for s in _shard_members(out)]
    merged = read_summary(out)
    assert merged["complete"] and merged["shards"]["missing"] == []
    seen = [Path(p["photo"]).name for p in merged["photos"]]
    assert sorted(seen) == sorted([Path(n).name for n in names] + ["broken.jpg"])
    assert len(seen) == len(set(seen))  # exactly once
    shard_of = {Path(p["photo"]).name: p["shard"] for p in merged["photos"]}
    assert set(shard_of.values()) == {0, 1, 2}
    for n in names:
        stem = Path(n).stem
        assert (out / stem / f"{stem}.blend").exists()


def _shard_members(out: Path) -> list[set[str]]:
    members = []
    for i in range(3):
        data = json.loads((out / f"summary.shard-{i}-of-3.json").read_text())
        members.append({Path(p["photo"]).name for p in data["photos"]})
    return members


def test_bad_command_exits_2(installed_extension, tmp_path, sample_depth):
    handler = ext(installed_extension, "operators.cli_command").handler
    (tmp_path / "p").mkdir()
    # --depth is for one photo; a folder needs --depth-dir.
    assert (
        handler([str(tmp_path / "p"), "-o", str(tmp_path / "o"), "--depth", str(sample_depth)]) == 2
    )
    assert handler([str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert handler(["--help"]) == 0


def test_script_on_folder_as_subprocess(tmp_path, sample_photo, sample_depth):
    """scripts/oneshot3d.py under the bpy module, uninstalled: same command, same results."""
    photos, depth = make_folder(tmp_path, sample_photo, sample_depth, ["a.png"])
    # Depth maps beside the photos (--depth-dir = the photo folder), named <stem>.npy.
    (depth / "a_depth.npy").rename(photos / "a.npy")
    (depth / "broken.npy").rename(photos / "broken.npy")
    depth = photos
    out = tmp_path / "out"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "oneshot3d.py"), str(photos), "-o", str(out)]
        + ["--depth-dir", str(depth), "--depth-kind", "depth", "--preset", "CIRCLE", *TINY],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "broken.jpg" in result.stderr
    entries = by_name(read_summary(out))
    assert entries["a.png"]["status"] == "ok" and entries["broken.jpg"]["status"] == "failed"
    frames = read_video(out / "a" / "a_circle.mp4")
    assert len(frames) == 4
    assert np.abs(frames[2] - frames[0]).mean() > 0.5  # the camera moved
    preview = cv2.imread(str(out / "a" / "a_preview.png"))
    assert preview.shape == (72, 96, 3)  # 25 % of 384x288


# --- the batch runs the pipeline in the worker, with torch only in the vendored folder -------

TORCH_NAMES = ("torch", "functorch", "torchgen")
VENDORED_SCRIPT = r"""
import importlib, importlib.util, json, os, sys
from pathlib import Path

zip_path, site, argv_json, vendor_now = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
import bpy

assert bpy.ops.extensions.package_install_files(
    repo="user_default", filepath=zip_path, enable_on_install=True
) == {"FINISHED"}
ext = "bl_ext.user_default.oneshot3d"
ops = importlib.import_module(ext + ".blender.extension")
vendor = importlib.import_module(ext + ".pipeline.runtime.vendor")
folder = vendor.vendor_dir(ops.user_dir())
if vendor_now == "1":
    # The vendored environment exposes the venv's real torch (what Install Dependencies
    # would have put there), nothing else.
    folder.mkdir(parents=True, exist_ok=True)
    for entry in Path(site).iterdir():
        if entry.name.split("-")[0] in ("torch", "functorch", "torchgen"):
            (folder / entry.name).symlink_to(entry)
handler = importlib.import_module(ext + ".operators.cli_command").handler
code = handler(json.loads(argv_json))
print("RESULT " + json.dumps({
    "code": code,
    "torch_loaded": "torch" in sys.modules,
    "torch_findable": importlib.util.find_spec("torch") is not None,
    "vendor": str(folder),
    "depth_cache": sorted(p.name for p in (ops.user_dir() / "depth").rglob("*.npy")),
}))
"""


def torchless_python(tmp_path: Path) -> tuple[Path, Path]:
    """A Python whose own packages are this venv's without torch (Blender's situation: numpy,
    OpenCV and bpy importable, torch not); returns (python, the venv's site-packages)."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    env_dir = tmp_path / "torchless"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    own_site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    for entry in site.iterdir():
        if entry.name.split("-")[0] not in TORCH_NAMES and not (own_site / entry.name).exists():
            (own_site / entry.name).symlink_to(entry)
    return python, site


def run_vendored(python, zip_path, site, argv, vendor_now, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "user")
    script = tmp_path / "run_vendored.py"
    script.write_text(VENDORED_SCRIPT)
    result = subprocess.run(
        [str(python), str(script), str(zip_path), str(site), json.dumps(argv), vendor_now],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    lines = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :]), result


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed in this venv"
)
def test_batch_without_depth_files_uses_vendored_torch_in_the_worker(
    extension_zip, tmp_path, sample_photo, reference_dir
):
    """`--command oneshot3d PHOTOS -o OUT` with no depth files, in a Blender whose own Python
    cannot import torch: the network backend runs in the worker through the vendored folder;
    torch never enters Blender's process. Without the vendored folder the photo fails."""
    models = reference_dir / "tiefenrausch"
    if not (models / "tiefenrausch_init.pb").exists():
        pytest.skip("the official Tiefenrausch files are not in ../shared/reference")
    python, site = torchless_python(tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(sample_photo, photos / "a.png")
    out = tmp_path / "out"
    argv = [str(photos), "-o", str(out), "--backend", "tiefenrausch", "--model-dir", str(models)]
    argv += ["--preset", "SWING", *TINY]

    info, result = run_vendored(python, extension_zip, site, argv, "0", tmp_path)
    assert info["torch_findable"] is False  # this Blender really has no torch of its own
    assert info["code"] == 1, result.stderr[-2000:]
    error = by_name(read_summary(out))["a.png"]["error"]
    assert "torch" in error.lower(), error  # "Tiefenrausch needs PyTorch, which is not installed"

    info, result = run_vendored(python, extension_zip, site, argv, "1", tmp_path)
    assert info["code"] == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert info["torch_loaded"] is False and info["torch_findable"] is False
    entry = by_name(read_summary(out))["a.png"]
    assert entry["status"] == "ok" and "depth" in entry["timings"]
    assert len(info["depth_cache"]) == 1  # the import's depth cache, in the extension folder
    frames = read_video(out / "a" / "a_swing.mp4")
    assert len(frames) == 4
    assert max(np.abs(f - frames[0]).mean() for f in frames[1:]) > 0.2  # the camera moved
    # The rest camera reproduces the photo through the network-depth mesh.
    preview = cv2.imread(str(out / "a" / "a_preview.png")).astype(np.float64)
    photo = cv2.imread(str(sample_photo))
    photo = cv2.resize(photo, preview.shape[1::-1], interpolation=cv2.INTER_AREA)
    mse = np.mean((preview - photo.astype(np.float64)) ** 2)
    assert 10 * np.log10(255**2 / mse) > 20


# --- refusals before anything is written --------------------------------------------------


def one_line_error(capfd) -> str:
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_output_in_the_photos_or_no_photos_exits_2(
    installed_extension, tmp_path, sample_photo, capfd
):
    from pipeline.runtime.batch_plan import OUTPUT_MARKER

    handler = ext(installed_extension, "operators.cli_command").handler
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(sample_photo, photos / "a.png")
    capfd.readouterr()
    for out in (photos, photos / "renders"):
        assert handler([str(photos), "-o", str(out), "--depth", ""]) == 2
        assert "photo folder" in one_line_error(capfd)
        assert not (out / OUTPUT_MARKER).exists() and not (out / "summary.json").exists()
    assert sorted(p.name for p in photos.iterdir()) == ["a.png"]  # nothing written there
    assert handler([str(photos / "a.png"), "-o", str(photos)]) == 2  # one photo, its folder
    assert "holds the photo" in one_line_error(capfd)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert handler([str(empty), "-o", str(tmp_path / "out")]) == 2
    assert "No photos found" in one_line_error(capfd)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--resolution-scale", "0"], "--resolution-scale"),
        (["--resolution-scale", "1000"], "between 1 and 400"),
        (["--resolution-scale", "nan"], "--resolution-scale"),
        (["--samples", "0"], "--samples"),
        (["--frames", "1"], "--frames"),
        (["--amplitude-scale", "0"], "--amplitude-scale"),
        (["--backend", "no-such-net"], "unknown depth backend"),
        (["--depth-threshold", "5"], "depth_threshold"),
        (["--median-size", "4"], "median_size"),
        (["--preset", "SPIN"], "unknown preset"),
        (["--worker-timeout", "-1"], "--worker-timeout"),
    ],
)
def test_bad_global_option_exits_2_before_any_photo(
    installed_extension, tmp_path, sample_photo, sample_depth, capfd, extra, expected
):
    handler = ext(installed_extension, "operators.cli_command").handler
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(sample_photo, photos / "a.png")
    shutil.copy(sample_depth, tmp_path / "a.npy")
    out = tmp_path / "out"
    capfd.readouterr()
    argv = [str(photos), "-o", str(out), "--depth-dir", str(tmp_path), "--depth-kind", "depth"]
    assert handler(argv + extra) == 2
    assert expected in one_line_error(capfd)
    assert not out.exists()  # nothing started, nothing written


def test_missing_model_exits_2_before_any_photo(installed_extension, tmp_path, sample_photo, capfd):
    import bpy

    if bpy.app.online_access:
        pytest.skip("online access is on here: the worker would download the model")
    handler = ext(installed_extension, "operators.cli_command").handler
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(sample_photo, photos / "a.png")
    out = tmp_path / "out"
    capfd.readouterr()
    argv = [str(photos), "-o", str(out), "--backend", "tiefenrausch"]
    assert handler(argv + ["--model-dir", str(tmp_path / "no-models")]) == 2
    line = one_line_error(capfd)
    assert "tiefenrausch" in line and "Online access is off" in line
    assert not out.exists()


# --- a shard killed half-way --------------------------------------------------------------


def test_killed_shard_leaves_summary_incomplete_until_rerun(
    empty_scene, installed_extension, tmp_path, sample_photo, sample_depth
):
    """Shard 1 of 2 runs as a real process and is killed (with its worker) after its first
    photo: the merged summary is not complete and names the photo it never reached; running
    the shard again completes it."""
    import signal
    import time

    handler = ext(installed_extension, "operators.cli_command").handler
    names = ["a.png", "b.png", "c.png", "d.png", "e.png", "f.png"]
    photos, depth = make_folder(tmp_path, sample_photo, sample_depth, names)
    (photos / "broken.jpg").unlink()
    out = tmp_path / "out"
    base = [str(photos), "-o", str(out), "--depth-dir", str(depth), "--depth-kind", "depth"]
    base += ["--no-preview", "--mesh-mode", "torn"]
    assert handler(base + ["--shard", "0", "--num-shards", "2"]) == 0

    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    env["ONESHOT3D_WORKER_FAULT"] = "slow"  # 0.4 s per progress step: time to kill mid-photo
    shard_file = out / "summary.shard-1-of-2.json"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "oneshot3d.py"), *base]
        + ["--shard", "1", "--num-shards", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # its own process group: the kill takes its worker too
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(shard_file.read_text())["photos"]:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        assert proc.poll() is None, "the shard ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    shard1 = json.loads(shard_file.read_text())
    assert [Path(p).name for p in shard1["planned"]] == ["b.png", "d.png", "f.png"]
    done = {Path(p["photo"]).name for p in shard1["photos"]}
    assert done == {"b.png"}
    # The kill may land between the shard's own file and its merge: summary.json is then one
    # photo behind, but never complete; the next merge (any shard's, or on demand) catches up.
    stale = read_summary(out)
    assert stale["complete"] is False and {"d.png", "f.png"} <= {
        Path(p).name for p in stale["missing"]
    }
    importlib.import_module(
        f"{installed_extension.__name__}.pipeline.runtime.batch_summary"
    ).merge_summaries(out, 2)
    merged = read_summary(out)
    assert merged["shards"]["missing"] == [] and merged["total"] == 6
    assert merged["complete"] is False
    assert sorted(Path(p).name for p in merged["missing"]) == ["d.png", "f.png"]
    assert merged["counts"]["ok"] == 4

    assert handler(base + ["--shard", "1", "--num-shards", "2"]) == 0  # the farm retries it
    merged = read_summary(out)
    assert merged["complete"] is True and merged["missing"] == []
    assert merged["counts"] == {"ok": 5, "failed": 0, "skipped": 1}  # b.png was done
