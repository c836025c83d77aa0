"""Model catalogue and manager: hash-checked downloads from a local HTTP server, the model
folder search order, and refusal of pickles that carry code."""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import CancelledError, ModelError
from pipeline.runtime import downloads, models
from pipeline.runtime.models import CATALOGUE, ModelInfo

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"

PAYLOAD = bytes(range(256)) * 1200 + b"tail"  # 307,204 bytes: several download chunks
NAME = "test-model"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        if self.path == "/interrupted.bin":
            # Announces the full size, sends half, then drops the connection.
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    (root / "good.bin").write_bytes(PAYLOAD)
    corrupted = bytearray(PAYLOAD)
    corrupted[1000] ^= 0xFF  # same size, one byte flipped
    (root / "corrupted.bin").write_bytes(bytes(corrupted))
    (root / "truncated.bin").write_bytes(PAYLOAD[:-5000])
    (root / "longer.bin").write_bytes(PAYLOAD + b"x" * 10)

    def handler(*args: object, **kwargs: object) -> _Handler:
        return _Handler(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def entry(monkeypatch: pytest.MonkeyPatch, server: str) -> ModelInfo:
    info = ModelInfo(
        name=NAME,
        filename="test-model.bin",
        url=f"{server}/good.bin",
        size=len(PAYLOAD),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        licence="MIT",
        label="Test model",
    )
    monkeypatch.setitem(CATALOGUE, NAME, info)
    monkeypatch.delenv(models.MODEL_DIR_ENV, raising=False)
    return info


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_download_is_verified_and_reports_progress(entry: ModelInfo, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    path = downloads.download_model(NAME, tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert path == tmp_path / entry.filename
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == [entry.filename]  # no .part left behind
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert all(a[0] <= b[0] for a, b in zip(calls[:-1], calls[1:], strict=True))
    assert models.resolve_model(NAME, cache_dir=tmp_path) == path


@pytest.mark.parametrize(
    "served, message",
    [
        ("corrupted.bin", "corrupted"),
        ("truncated.bin", "stopped after"),
        ("longer.bin", "larger than"),
        ("interrupted.bin", "stopped after|Cannot download"),
        ("missing.bin", "Cannot download"),
    ],
)
def test_bad_download_leaves_no_trusted_file(
    entry: ModelInfo, server: str, tmp_path: Path, served: str, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        downloads.download_model(NAME, tmp_path, url=f"{server}/{served}", timeout=10)
    assert _leftovers(tmp_path) == []
    with pytest.raises(ModelError, match="was not found"):
        models.resolve_model(NAME, cache_dir=tmp_path)


def test_download_cancelled_by_callback(entry: ModelInfo, tmp_path: Path) -> None:
    with pytest.raises(CancelledError):
        downloads.download_model(NAME, tmp_path, progress=lambda d, t: d < 100_000)
    assert _leftovers(tmp_path) == []

    def boom(done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        downloads.download_model(NAME, tmp_path, progress=boom)
    assert _leftovers(tmp_path) == []


def test_interrupted_download_in_place_of_final_file_is_refused(
    entry: ModelInfo, tmp_path: Path
) -> None:
    # A half-written file under the final name (e.g. copied by hand) is never trusted...
    (tmp_path / entry.filename).write_bytes(PAYLOAD[:1000])
    with pytest.raises(ModelError, match="damaged"):
        models.resolve_model(NAME, cache_dir=tmp_path)
    # ...and a fresh download replaces it.
    path = downloads.download_model(NAME, tmp_path)
    assert path.read_bytes() == PAYLOAD


def test_search_order_and_env_override(
    entry: ModelInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit, env, cache = tmp_path / "explicit", tmp_path / "env", tmp_path / "cache"
    for folder in (explicit, env, cache):
        folder.mkdir()
        (folder / entry.filename).write_bytes(PAYLOAD)
    assert models.resolve_model(NAME, cache_dir=cache) == cache / entry.filename
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(env))
    assert models.resolve_model(NAME, cache_dir=cache) == env / entry.filename
    assert models.resolve_model(NAME, str(explicit), cache) == explicit / entry.filename
    # An explicit folder without the file falls through to the next one.
    assert models.resolve_model(NAME, str(tmp_path), cache) == env / entry.filename
    assert models.resolve_model(entry.filename, cache_dir=cache) == env / entry.filename


def test_missing_model_message_says_how_to_get_it(entry: ModelInfo, tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        models.resolve_model(NAME, str(tmp_path / "mine"), tmp_path / "cache")
    text = str(err.value)
    assert entry.filename in text and entry.url in text and "model folder" in text
    assert str(tmp_path / "mine") in text
    assert models.find_model(NAME, cache_dir=tmp_path) is None


def test_verified_hash_is_cached_by_path_size_mtime(
    entry: ModelInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / entry.filename
    path.write_bytes(PAYLOAD)
    hashed: list[str] = []
    real = models.sha256_file

    def counting(p: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
        hashed.append(str(p))
        return real(p, chunk)

    monkeypatch.setattr(models, "sha256_file", counting)
    for _ in range(3):
        assert models.resolve_model(NAME, cache_dir=tmp_path) == path
    assert len(hashed) == 1
    # Same size, different content and mtime: hashed again and refused.
    corrupted = bytearray(PAYLOAD)
    corrupted[0] ^= 1
    path.write_bytes(bytes(corrupted))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    with pytest.raises(ModelError, match="damaged"):
        models.resolve_model(NAME, cache_dir=tmp_path)
    assert len(hashed) == 2


def test_unpinned_model_only_from_explicit_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(models.MODEL_DIR_ENV, raising=False)
    info = CATALOGUE["depth_anything_v2_vitb"]
    assert not info.pinned and "non-commercial" in info.note
    with pytest.raises(ModelError, match="not downloaded automatically"):
        downloads.download_model(info.name, tmp_path)
    assert _leftovers(tmp_path) == []
    cache, mine = tmp_path / "cache", tmp_path / "mine"
    cache.mkdir()
    mine.mkdir()
    (cache / info.filename).write_bytes(b"whatever")
    with pytest.raises(ModelError, match="non-commercial"):
        models.resolve_model(info.name, cache_dir=cache)  # the cache is never trusted for it
    (mine / info.filename).write_bytes(b"whatever")
    assert models.resolve_model(info.name, str(mine), cache) == mine / info.filename
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(mine))
    assert models.resolve_model(info.name, cache_dir=cache) == mine / info.filename


def test_ensure_model_downloads_only_when_allowed(entry: ModelInfo, tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        downloads.ensure_model(NAME, cache_dir=tmp_path, allow_download=False)
    assert _leftovers(tmp_path) == []
    path = downloads.ensure_model(NAME, cache_dir=tmp_path, allow_download=True)
    assert path.read_bytes() == PAYLOAD


def test_catalogue_entries_are_consistent() -> None:
    for key, info in CATALOGUE.items():
        assert key == info.name
        assert info.url.startswith("https://") and info.url.endswith("/" + info.filename)
        if info.pinned:
            assert re.fullmatch(r"[0-9a-f]{64}", info.sha256 or "")
            assert info.size and info.size > 0
        else:
            assert "CC-BY-NC" in info.licence and "non-commercial" in info.label
    # Tiefenrausch comes from the official repository pinned to a commit, not a branch.
    for name in ("tiefenrausch", "tiefenrausch_init"):
        assert "/raw/ff094d02bb519d228170a9bad068adaf9fca18ca/model/" in CATALOGUE[name].url
    small = CATALOGUE["depth_anything_v2_vits"]
    assert small.url.startswith("https://huggingface.co/depth-anything/Depth-Anything-V2-Small/")
    assert small.size == 99_218_434 and small.licence == "Apache-2.0"


def test_catalogue_matches_reference_files() -> None:
    folder = REFERENCE / "tiefenrausch"
    if not folder.is_dir():
        pytest.skip(f"reference data not present at {folder}")
    for name in ("tiefenrausch", "tiefenrausch_init"):
        info = CATALOGUE[name]
        path = folder / info.filename
        assert path.stat().st_size == info.size
        assert models.sha256_file(path) == info.sha256
        assert models.resolve_model(name, str(folder)) == path


def test_default_cache_dir_is_per_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = models.default_cache_dir()
    assert folder.name == "models" and "oneshot3d" in folder.parts
    if os.name == "posix" and models.sys.platform.startswith("linux"):
        assert folder == tmp_path / "oneshot3d" / "models"


# --- safe loading -----------------------------------------------------------------------------


class _Evil:
    """Unpickling this would create a folder (a stand-in for arbitrary code)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.target,))


def test_pickle_with_code_is_refused(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="safe_torch_load needs torch")
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "payload": _Evil(str(marker))}, path)
    with pytest.raises(ModelError, match="Refusing to load"):
        models.safe_torch_load(path)
    assert not marker.exists()
    # The payload is real: a plain (unsafe) load would have run it.
    torch.load(path, weights_only=False)
    assert marker.is_dir()


def test_plain_state_dict_loads(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="safe_torch_load needs torch")
    path = tmp_path / "ok.pth"
    torch.save({"a.weight": torch.arange(6.0).reshape(2, 3)}, path)
    state = models.safe_torch_load(path)
    assert list(state) == ["a.weight"] and float(state["a.weight"].sum()) == 15.0
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        models.safe_torch_load(tmp_path / "junk.pth")
    with pytest.raises(ModelError, match="does not exist"):
        models.safe_torch_load(tmp_path / "absent.pth")
