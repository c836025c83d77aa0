"""Batch planning: discovery, sharding, output names, resume, depth pairing, summaries."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import DepthFileError, ImageReadError, SettingsError
from pipeline.io.atomic import write_json_atomic
from pipeline.runtime.batch_plan import (
    OUTPUT_MARKER,
    depth_for,
    discover_photos,
    is_done,
    normalise_presets,
    output_names,
    output_paths,
    plan_batch,
    shard,
)
from pipeline.runtime.batch_summary import LOCK_NAME, PhotoResult, Summary, merge_summaries


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def photo_tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for rel in [
        "b.jpg",
        "A.JPEG",
        "c.png",
        "sub/d.tif",
        "sub/Deeper/e.webp",
        "Sub2/f.TIFF",
        "notes.txt",
        "clip.mp4",
        ".hidden.jpg",
        ".cache/g.jpg",
        "__MACOSX/._b.jpg",
        "__MACOSX/h.jpg",
    ]:
        _touch(root / rel)
    return root


def _rel(paths, root):
    return [p.relative_to(root).as_posix() for p in paths]


# --- discovery -------------------------------------------------------------------------------


def test_discover_folder_recursive_sorted_and_filtered(photo_tree: Path):
    found = discover_photos(photo_tree)
    assert _rel(found, photo_tree) == [
        "A.JPEG",
        "b.jpg",
        "c.png",
        "sub/d.tif",
        "sub/Deeper/e.webp",
        "Sub2/f.TIFF",
    ]


def test_discover_order_does_not_depend_on_creation_order(tmp_path: Path):
    names = ["z.jpg", "a.jpg", "M.jpg", "k/a.jpg", "B.png"]
    for order, folder in ((names, "one"), (names[::-1], "two")):
        for n in order:
            _touch(tmp_path / folder / n)
    one = _rel(discover_photos(tmp_path / "one"), tmp_path / "one")
    two = _rel(discover_photos(tmp_path / "two"), tmp_path / "two")
    assert one == two == ["a.jpg", "B.png", "k/a.jpg", "M.jpg", "z.jpg"]


def test_discover_skips_output_folders(photo_tree: Path):
    out = photo_tree / "renders"
    _touch(out / "b" / "b_preview.png")  # our own output folder inside the input folder
    old = photo_tree / "old_run"
    _touch(old / OUTPUT_MARKER)  # an earlier run's output folder, found by its marker
    _touch(old / "x" / "x.png")
    found = _rel(discover_photos(photo_tree, exclude=[out]), photo_tree)
    assert not any(p.startswith(("renders/", "old_run/")) for p in found)
    assert len(found) == 6


def test_discover_single_file_and_errors(tmp_path: Path):
    photo = _touch(tmp_path / "one.JPG")
    assert discover_photos(photo) == [photo]
    with pytest.raises(ImageReadError, match="does not exist"):
        discover_photos(tmp_path / "missing")
    with pytest.raises(ImageReadError, match="not a supported photo"):
        discover_photos(_touch(tmp_path / "notes.txt"))
    assert discover_photos(_touch(tmp_path / "empty" / "readme.md").parent) == []


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_discover_survives_symlink_loops(tmp_path: Path):
    root = tmp_path / "photos"
    _touch(root / "a" / "x.jpg")
    os.symlink(root, root / "a" / "loop")  # a folder linking back to its ancestor
    assert _rel(discover_photos(root), root) == ["a/x.jpg"]


# --- sharding --------------------------------------------------------------------------------


@given(n=st.integers(0, 200), count=st.integers(1, 17))
def test_shards_cover_every_photo_exactly_once(n, count):
    photos = [f"p{i:03d}.jpg" for i in range(n)]
    parts = [shard(photos, i, count) for i in range(count)]
    flat = [p for part in parts for p in part]
    assert sorted(flat) == photos  # every photo, none twice
    assert len(flat) == len(set(flat))
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1  # balanced


@pytest.mark.parametrize(
    "index, count, match",
    [
        (2, 2, "--shard"),
        (-1, 3, "--shard"),
        (0, 0, "--num-shards"),
        (0, True, "--num-shards"),
        ("1", 2, "--shard"),
        (1.0, 2, "--shard"),
    ],
)
def test_shard_validation(index, count, match):
    with pytest.raises(SettingsError, match=match):
        shard(["a"], index, count)


# --- names, paths, resume --------------------------------------------------------------------


def test_output_names_unique_and_stable(tmp_path: Path):
    root = tmp_path
    photos = [
        root / "a" / "x.jpg",
        root / "b" / "X.jpg",
        root / "c" / "y.jpg",
        root / "c" / "y.png",
        root / "solo.jpg",
        root / "bad:name?.jpg",
    ]
    names = output_names(photos, root)
    assert names[photos[4]] == "solo"
    assert names[photos[0]] == "a__x" and names[photos[1]] == "b__X"
    assert names[photos[2]] == "c__y_jpg" and names[photos[3]] == "c__y_png"
    assert names[photos[5]] == "bad_name_"
    assert len({n.casefold() for n in names.values()}) == len(photos)
    assert output_names(photos, root) == names  # deterministic


def test_output_paths_layout(tmp_path: Path):
    paths = output_paths(tmp_path, "/in/holiday.jpg", ["SWING", "dolly_zoom"])
    assert paths.blend == tmp_path / "holiday" / "holiday.blend"
    assert paths.videos == {
        "SWING": tmp_path / "holiday" / "holiday_swing.mp4",
        "DOLLY_ZOOM": tmp_path / "holiday" / "holiday_dolly_zoom.mp4",
    }
    assert normalise_presets("swing, CIRCLE,swing") == ["SWING", "CIRCLE"]
    with pytest.raises(SettingsError, match="unknown preset"):
        normalise_presets(["WOBBLE"])


def test_is_done_needs_every_non_empty_output(tmp_path: Path):
    paths = output_paths(tmp_path, "p.jpg", ["SWING", "CIRCLE"])
    assert not is_done(paths)
    _touch(paths.blend)
    _touch(paths.videos["SWING"])
    assert not is_done(paths)
    _touch(paths.videos["CIRCLE"], b"")  # an empty (interrupted) file does not count
    assert not is_done(paths)
    _touch(paths.videos["CIRCLE"])
    assert is_done(paths)


def test_plan_batch_resumes_and_shards(photo_tree: Path, tmp_path: Path):
    out = tmp_path / "out"
    full = plan_batch(photo_tree, out, "SWING")
    assert [it.index for it in full] == list(range(6))
    for p in full[0].outputs.all():
        _touch(p)
    again = plan_batch(photo_tree, out, "SWING")
    assert [it.done for it in again] == [True] + [False] * 5
    assert not any(it.done for it in plan_batch(photo_tree, out, "SWING", overwrite=True))
    shards = [plan_batch(photo_tree, out, "SWING", i, 4) for i in range(4)]
    assert sorted(it.photo for s in shards for it in s) == sorted(it.photo for it in full)
    assert {it.total for s in shards for it in s} == {6}
    with pytest.raises(SettingsError, match="preset"):
        plan_batch(photo_tree, out, "NOPE")
    # No preset: a photo is done when its .blend exists.
    bare = plan_batch(photo_tree, tmp_path / "bare", "")
    _touch(bare[1].outputs.blend)
    assert [it.done for it in plan_batch(photo_tree, tmp_path / "bare", "")][:2] == [False, True]


def test_plan_batch_refuses_output_in_the_photos(photo_tree: Path, tmp_path: Path):
    """Output = the photo folder (or inside it) would put outputs and the marker that hides a
    folder from later runs among the photos: refused before anything is written."""
    for out in (photo_tree, photo_tree / "out", photo_tree / "sub" / "renders"):
        with pytest.raises(SettingsError, match="photo folder"):
            plan_batch(photo_tree, out, "SWING")
        assert not (out / OUTPUT_MARKER).exists()
    link = tmp_path / "link"
    link.symlink_to(photo_tree)  # the same folder under another name
    with pytest.raises(SettingsError, match="photo folder"):
        plan_batch(photo_tree, link, "SWING")
    # One photo: its own folder is refused, a folder beside or below it is fine.
    with pytest.raises(SettingsError, match="holds the photo"):
        plan_batch(photo_tree / "b.jpg", photo_tree, "SWING")
    assert len(plan_batch(photo_tree / "b.jpg", photo_tree / "out", "SWING")) == 1
    assert len(plan_batch(photo_tree, tmp_path / "elsewhere", "SWING")) == 6


def test_plan_batch_no_photos_and_depth_options(tmp_path: Path):
    empty = tmp_path / "empty"
    _touch(empty / "notes.txt")
    with pytest.raises(SettingsError, match="No photos found"):
        plan_batch(empty, tmp_path / "out", "SWING")
    # An old output folder under the source is skipped: nothing left is still "no photos".
    Summary(empty / "old")
    _touch(empty / "old" / "x.jpg")
    with pytest.raises(SettingsError, match="No photos found"):
        plan_batch(empty, tmp_path / "out", "SWING")
    with pytest.raises(SettingsError, match="--depth-dir"):
        plan_batch(empty, tmp_path / "out", "SWING", depth_file=tmp_path / "d.npy")
    photo = _touch(tmp_path / "one" / "p.jpg")
    (item,) = plan_batch(photo, tmp_path / "out", "SWING", depth_file=tmp_path / "d.npy")
    assert item.depth == tmp_path / "d.npy"


# --- depth pairing ---------------------------------------------------------------------------


def test_depth_for_patterns_and_priority(tmp_path: Path):
    depth = tmp_path / "depth"
    photo = tmp_path / "photos" / "IMG_1.jpg"
    assert depth_for(photo, _touch(depth / "other.npy").parent) is None
    _touch(depth / "IMG_1_depth.PNG")
    assert depth_for(photo, depth) == depth / "IMG_1_depth.PNG"
    _touch(depth / "img_1.png")  # exact stem beats the _depth pattern (case-insensitive)
    assert depth_for(photo, depth) == depth / "img_1.png"
    _touch(depth / "IMG_1.npy")  # and float formats beat PNG
    assert depth_for(photo, depth) == depth / "IMG_1.npy"


def test_depth_for_mirrored_folders_and_self(tmp_path: Path):
    photos, depth = tmp_path / "photos", tmp_path / "depth"
    a = _touch(photos / "trip" / "x.jpg")
    _touch(depth / "x.npy")
    _touch(depth / "trip" / "x.exr")
    assert depth_for(a, depth, photos) == depth / "trip" / "x.exr"
    assert depth_for(photos / "y.jpg", depth, photos) is None
    # Depth maps kept beside the photos: a PNG photo is never its own depth map.
    png = _touch(photos / "z.png")
    assert depth_for(png, photos) is None
    _touch(photos / "z_depth.png")
    assert depth_for(png, photos) == photos / "z_depth.png"
    with pytest.raises(DepthFileError, match="depth folder"):
        depth_for(a, tmp_path / "nope")


def test_plan_batch_pairs_depth(photo_tree: Path, tmp_path: Path):
    depth = tmp_path / "depth"
    _touch(depth / "b.npy")
    _touch(depth / "sub" / "d.png")
    items = {
        it.photo.name: it for it in plan_batch(photo_tree, tmp_path / "o", "SWING", depth_dir=depth)
    }
    assert items["b.jpg"].depth == depth / "b.npy"
    assert items["d.tif"].depth == depth / "sub" / "d.png"
    assert items["c.png"].depth is None
    # A depth folder inside the photos is not searched for photos (its PNGs are depth
    # maps); depth maps beside the photos (depth folder = photo folder) keep the photos.
    inner = photo_tree / "depthmaps"
    _touch(inner / "b.png")
    planned = plan_batch(photo_tree, tmp_path / "o2", "SWING", depth_dir=inner)
    assert inner / "b.png" not in [it.photo for it in planned]
    assert {it.depth for it in planned if it.photo.name == "b.jpg"} == {inner / "b.png"}
    _touch(photo_tree / "c_depth.npy")
    planned = plan_batch(photo_tree, tmp_path / "o3", "SWING", depth_dir=photo_tree)
    assert len(planned) == 7  # the six photos and depthmaps/b.png (a PNG: a photo here)
    assert {it.depth for it in planned if it.photo.name == "c.png"} == {photo_tree / "c_depth.npy"}


# --- summaries -------------------------------------------------------------------------------


def test_summary_written_after_every_photo(tmp_path: Path):
    s = Summary(tmp_path / "out", meta={"presets": ["SWING"]})
    s.record("a.jpg", "ok", outputs=["out/a/a.blend"], timings={"depth": 0.51234567}, index=0)
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["counts"] == {"ok": 1, "failed": 0, "skipped": 0}
    assert data["photos"][0]["timings"] == {"depth": 0.5123}
    assert s.exit_code() == 0
    s.record("b.jpg", "failed", error=ImageReadError("Cannot read photo 'b.jpg'."), index=1)
    s.record("c.jpg", "skipped", index=2)
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [p["status"] for p in data["photos"]] == ["ok", "failed", "skipped"]
    assert data["photos"][1]["error"] == "ImageReadError: Cannot read photo 'b.jpg'."
    assert data["meta"] == {"presets": ["SWING"]}
    assert s.exit_code() == 1
    assert (tmp_path / "out" / OUTPUT_MARKER).exists()
    assert not list((tmp_path / "out").glob("*.tmp"))  # atomic writes leave no debris
    with pytest.raises(SettingsError, match="status"):
        PhotoResult("x.jpg", "done")


def test_summary_lists_planned_photos_until_recorded(tmp_path: Path):
    s = Summary(tmp_path / "out", planned=["a.jpg", "b.jpg"], total=2)
    s.write()  # the batch reports in before its first photo
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["planned"] == ["a.jpg", "b.jpg"] and data["total"] == 2
    assert data["missing"] == ["a.jpg", "b.jpg"] and not data["complete"]
    s.record("a.jpg", "ok", index=0)
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["missing"] == ["b.jpg"] and not data["complete"]
    s.record("b.jpg", "failed", error="boom", index=1)
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["missing"] == [] and data["complete"]


def test_killed_shard_leaves_an_incomplete_summary(tmp_path: Path):
    """Shard 1 plans 4 photos and dies after 2: every shard has reported, but the merged
    summary names the 2 missing photos and is not complete (a re-run of shard 1 fixes it)."""
    out = tmp_path / "out"
    plan = {i: [f"p{i + 2 * k}.jpg" for k in range(4)] for i in range(2)}
    s0, s1 = (Summary(out, i, 2, planned=plan[i], total=8) for i in range(2))
    for k, photo in enumerate(plan[0]):
        s0.record(photo, "ok", index=2 * k)
    for k, photo in enumerate(plan[1][:2]):
        s1.record(photo, "ok", index=1 + 2 * k)
    del s1  # killed: no more writes
    merged = json.loads((out / "summary.json").read_text())
    assert merged["shards"]["missing"] == [] and merged["total"] == 8
    assert merged["missing"] == ["p5.jpg", "p7.jpg"] and merged["complete"] is False
    assert merged["counts"]["ok"] == 6
    rerun = Summary(out, 1, 2, planned=plan[1], total=8)  # the shard is run again
    rerun.write()
    merged = json.loads((out / "summary.json").read_text())
    assert merged["missing"] == plan[1] and not merged["complete"]  # its old results are gone
    for k, photo in enumerate(plan[1]):
        rerun.record(photo, "skipped" if k < 2 else "ok", index=1 + 2 * k)
    merged = json.loads((out / "summary.json").read_text())
    assert merged["missing"] == [] and merged["complete"]


def test_sharded_summaries_merge(tmp_path: Path):
    out = tmp_path / "out"
    s0, s1 = Summary(out, 0, 2), Summary(out, 1, 2)
    s0.record("a.jpg", "ok", index=0)
    merged = json.loads((out / "summary.json").read_text())
    assert merged["shards"]["missing"] == [1] and not merged["complete"]
    s1.record("b.jpg", "failed", error="boom", index=1)
    s0.record("c.jpg", "ok", index=2)
    merged = json.loads((out / "summary.json").read_text())
    assert [p["photo"] for p in merged["photos"]] == ["a.jpg", "b.jpg", "c.jpg"]
    assert merged["complete"] and merged["counts"] == {"ok": 2, "failed": 1, "skipped": 0}
    assert (out / "summary.shard-0-of-2.json").exists()
    # A stale shard file from a 3-shard run and a corrupt one are not mixed in.
    _touch(out / "summary.shard-2-of-3.json", b'{"photos": [{"photo": "zzz.jpg"}]}')
    _touch(out / "summary.shard-5-of-2.json", b"{not json")
    merged = merge_summaries(out, 2)
    assert merged is not None
    assert "zzz.jpg" not in [p["photo"] for p in merged["photos"]]
    assert merged["errors"] and "summary.shard-5-of-2.json" in merged["errors"][0]


def _shard_worker(args):
    out, index, count, n = args
    s = Summary(out, index, count, planned=[f"p{index}-{k}.jpg" for k in range(n)])
    for k in range(n):
        s.record(f"p{index}-{k}.jpg", "ok", index=index + k * count)
    return index


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="file modes are POSIX-only")
def test_summary_is_readable_like_any_file_the_user_writes(tmp_path: Path):
    old = os.umask(0o022)
    try:
        Summary(tmp_path / "out").record("a.jpg", "ok", index=0)
    finally:
        os.umask(old)
    mode = (tmp_path / "out" / "summary.json").stat().st_mode & 0o777
    assert mode == 0o644  # not mkstemp's private 0600: farm users read each other's results


def test_concurrent_shards_end_with_a_complete_summary(tmp_path: Path):
    out, count, per = str(tmp_path / "out"), 4, 8
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(count) as pool:
        assert sorted(pool.map(_shard_worker, [(out, i, count, per) for i in range(count)])) == [
            0,
            1,
            2,
            3,
        ]
    merged = json.loads((Path(out) / "summary.json").read_text())
    assert merged["complete"] and len(merged["photos"]) == count * per
    assert [p["index"] for p in merged["photos"]] == list(range(count * per))
    assert not (Path(out) / LOCK_NAME).exists()


def test_stale_lock_is_broken_and_fresh_lock_waits(tmp_path: Path):
    out = tmp_path / "out"
    Summary(out, 0, 2).record("a.jpg", "ok")
    lock = _touch(out / LOCK_NAME)
    assert merge_summaries(out, 2, timeout=0.2) is None  # held by a live shard: give up
    old = time.time() - 3600
    os.utime(lock, (old, old))  # a crashed shard's lock
    merged = merge_summaries(out, 2, timeout=0.2)
    assert merged is not None and merged["photos"][0]["photo"] == "a.jpg"
    assert not lock.exists()


def test_lock_of_a_dead_process_on_this_host_is_broken_at_once(tmp_path: Path):
    """A shard killed while merging leaves summary.lock behind: the next merge must not wait
    for it (nor give up) when its holder is a process of this machine that is gone."""
    import socket
    import subprocess
    import sys

    out = tmp_path / "out"
    Summary(out, 0, 2).record("a.jpg", "ok")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = _touch(out / LOCK_NAME, f"{socket.gethostname()} {dead.pid}\n".encode())
    t0 = time.monotonic()
    merged = merge_summaries(out, 2, timeout=5.0)
    assert merged is not None and time.monotonic() - t0 < 5.0
    assert not lock.exists()
    # A live holder (this test's parent) is waited for.
    _touch(out / LOCK_NAME, f"{socket.gethostname()} {os.getppid()}\n".encode())
    assert merge_summaries(out, 2, timeout=0.2) is None


def test_write_json_atomic_replaces(tmp_path: Path):
    target = tmp_path / "x.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
