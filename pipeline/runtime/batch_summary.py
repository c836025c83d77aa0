"""The batch run's summary (no bpy): per-photo results written after every photo, and the
merge of the shards' summaries under a lock file.

Summaries when shards share one output folder: shard i of n writes only its own
``summary.shard-<i>-of-<n>.json`` (atomically: temporary file + rename, after every photo),
then merges all ``summary.shard-*-of-<n>.json`` files into ``summary.json`` while holding
``summary.lock`` (created with O_EXCL, so two machines on a shared disk cannot both hold it;
a lock older than :data:`STALE_LOCK_SECONDS`, or held by a process of this machine that no
longer exists, is taken to be left by a crashed shard and broken).
Because every shard file write is followed by a merge and merges are serialised, the last merge
sees every shard's last write: ``summary.json`` ends complete however the shards interleave.
Shard files of another shard count are ignored. A single, unsharded run writes
``summary.json`` directly. :func:`merge_summaries` redoes the merge on demand.

Every summary lists the photos its shard planned ("planned") and those of them without a
result yet ("missing"); "complete" is true only when every shard has reported and nothing is
missing, so a shard killed half-way (or still running) is never reported as finished.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import SettingsError
from ..io.atomic import write_json_atomic
from .batch_plan import OUTPUT_MARKER, shard

SUMMARY_NAME = "summary.json"
LOCK_NAME = "summary.lock"
STALE_LOCK_SECONDS = 300.0
LOCK_TIMEOUT_SECONDS = 60.0
SUMMARY_FORMAT = "oneshot3d-batch-summary"
SUMMARY_VERSION = 1
STATUSES = ("ok", "failed", "skipped")
_SHARD_FILE = re.compile(r"^summary\.shard-(\d+)-of-(\d+)\.json$")


# --- the summary -------------------------------------------------------------------------


@dataclass
class PhotoResult:
    photo: str
    status: str  # "ok", "failed" or "skipped" (outputs already there)
    outputs: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    error: str | None = None
    name: str | None = None
    index: int | None = None
    shard: int = 0
    # Largest camera moves without holes, per direction, as a fraction of the photo's focus
    # distance (the unit of the presets' amplitudes; pipeline.ldi.reveal). Empty when not known.
    safe_motion: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise SettingsError(f"status = {self.status!r}: must be one of {', '.join(STATUSES)}.")


class Summary:
    """The run's report, rewritten atomically after every photo.

    >>> s = Summary(out_dir, shard_index=i, shard_count=n, meta={"presets": [...]},
    ...             planned=[item.photo for item in items], total=len(all_photos))
    >>> s.record(photo, "ok", outputs=[...], timings={"depth": 0.4, "render": 12.0})
    >>> sys.exit(s.exit_code())

    ``planned`` is this shard's photo list: the summary lists the planned photos that have no
    result yet under "missing" and is "complete" only when there are none, so a shard that
    was killed half-way never reads as finished.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        shard_index: int = 0,
        shard_count: int = 1,
        meta: dict[str, Any] | None = None,
        planned: Iterable[str | os.PathLike[str]] = (),
        total: int | None = None,
    ) -> None:
        shard([], shard_index, shard_count)  # validates the pair
        self.planned = [os.fspath(p) for p in planned]
        self.total = total  # photos in all shards together, when known
        self.out_dir = Path(out_dir)
        self.shard_index = shard_index
        self.shard_count = shard_count
        self.meta = dict(meta or {})
        self.results: dict[str, PhotoResult] = {}
        self.started = _now()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / OUTPUT_MARKER).touch(exist_ok=True)

    @property
    def path(self) -> Path:
        if self.shard_count == 1:
            return self.out_dir / SUMMARY_NAME
        return self.out_dir / f"summary.shard-{self.shard_index}-of-{self.shard_count}.json"

    def record(
        self,
        photo: str | os.PathLike[str],
        status: str,
        outputs: Iterable[str | os.PathLike[str]] = (),
        timings: dict[str, float] | None = None,
        error: str | BaseException | None = None,
        name: str | None = None,
        index: int | None = None,
        safe_motion: dict[str, float] | None = None,
    ) -> PhotoResult:
        """Add (or replace) one photo's result and write the summary at once."""
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        result = PhotoResult(
            photo=os.fspath(photo),
            status=status,
            outputs=[os.fspath(o) for o in outputs],
            timings={k: round(float(v), 4) for k, v in (timings or {}).items()},
            error=error,
            name=name,
            index=index,
            shard=self.shard_index,
            safe_motion={k: round(float(v), 5) for k, v in (safe_motion or {}).items()},
        )
        self.results[result.photo] = result
        self.write()
        return result

    @property
    def failed(self) -> list[PhotoResult]:
        return [r for r in self.results.values() if r.status == "failed"]

    def exit_code(self) -> int:
        """0 when no photo failed, else 1 (the reasons are in the summary)."""
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        photos = sorted(self.results.values(), key=_result_order)
        missing = [p for p in self.planned if p not in self.results]
        return {
            "format": SUMMARY_FORMAT,
            "version": SUMMARY_VERSION,
            "started": self.started,
            "updated": _now(),
            "host": socket.gethostname(),
            "shard": {"index": self.shard_index, "count": self.shard_count},
            "meta": self.meta,
            "counts": _counts(photos),
            "total": self.total,
            "planned": self.planned,
            "missing": missing,
            "complete": not missing,
            "photos": [asdict(r) for r in photos],
        }

    def write(self) -> None:
        write_json_atomic(self.path, self.to_dict())
        if self.shard_count > 1:
            merge_summaries(self.out_dir, self.shard_count)


def _result_order(r: PhotoResult) -> tuple[int, str]:
    return (r.index if r.index is not None else 1 << 62, r.photo)


def _counts(photos: Iterable[PhotoResult | dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for r in photos:
        status = r.status if isinstance(r, PhotoResult) else r.get("status")
        if status in counts:
            counts[status] += 1
    return counts


def merge_summaries(
    out_dir: str | os.PathLike[str], shard_count: int, timeout: float = LOCK_TIMEOUT_SECONDS
) -> dict[str, Any] | None:
    """Merge ``summary.shard-*-of-<shard_count>.json`` into ``summary.json`` under the lock.

    Returns the merged summary, or None when the lock could not be had in ``timeout`` seconds
    (the shard files are intact; the next merge catches up). Unreadable shard files are listed
    under "errors" rather than failing the merge.
    """
    out = Path(out_dir)
    with _locked(out / LOCK_NAME, timeout) as held:
        if not held:
            return None
        photos: list[dict[str, Any]] = []
        planned: list[str] = []
        totals: list[int] = []
        reported: list[int] = []
        errors: list[str] = []
        meta: dict[str, Any] = {}
        for file in sorted(out.glob(f"summary.shard-*-of-{shard_count}.json")):
            m = _SHARD_FILE.match(file.name)
            if not m or int(m.group(2)) != shard_count:
                continue
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
                entries = data["photos"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                errors.append(f"{file.name}: {e}")
                continue
            reported.append(int(m.group(1)))
            photos.extend(entries)
            planned.extend(str(p) for p in data.get("planned") or [])
            if isinstance(data.get("total"), int):
                totals.append(data["total"])
            meta = meta or data.get("meta", {})
        photos.sort(
            key=lambda r: (
                r.get("index") if r.get("index") is not None else 1 << 62,
                str(r.get("photo")),
            )
        )
        reported.sort()
        counts = _counts(photos)
        recorded = {str(r.get("photo")) for r in photos}
        missing = [p for p in planned if p not in recorded]
        missing_shards = [i for i in range(shard_count) if i not in reported]
        merged = {
            "format": SUMMARY_FORMAT,
            "version": SUMMARY_VERSION,
            "updated": _now(),
            "shards": {
                "count": shard_count,
                "reported": reported,
                "missing": missing_shards,
            },
            "meta": meta,
            "counts": counts,
            "total": max(totals) if totals else None,
            # Planned photos of the shards that reported, without a result yet (a shard that
            # never reported adds its photos only when it starts).
            "missing": missing,
            "complete": not missing_shards and not missing,
            "photos": photos,
        }
        if errors:
            merged["errors"] = errors
        write_json_atomic(out / SUMMARY_NAME, merged)
        return merged


# --- the lock ------------------------------------------------------------------------------


@contextmanager
def _locked(lock: Path, timeout: float) -> Iterator[bool]:
    """An exclusive lock file (O_CREAT | O_EXCL works across machines on NFS v3+ and SMB).
    Yields whether the lock is held; stale locks from crashed holders are broken."""
    deadline = time.monotonic() + timeout
    held = False
    delay = 0.02
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                age = time.time() - lock.stat().st_mtime
            except OSError:
                continue  # vanished between the two calls: try again at once
            if age > STALE_LOCK_SECONDS or _holder_is_dead(lock):
                # Two waiters breaking the same stale lock could both end up holding one; the
                # cost is one merge racing another (each write is still atomic, and the next
                # merge repairs the result), which beats waiting forever after a crash.
                try:
                    os.unlink(lock)
                except OSError:
                    pass
                continue
            if time.monotonic() >= deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{socket.gethostname()} {os.getpid()}\n")
        held = True
        break
    try:
        yield held
    finally:
        if held:
            try:
                os.unlink(lock)
            except OSError:
                pass


def _holder_is_dead(lock: Path) -> bool:
    """Whether the lock was taken by a process of this machine that no longer exists (a shard
    killed while merging): then it is stale at once, not after STALE_LOCK_SECONDS."""
    try:
        host, pid_text = lock.read_text(encoding="utf-8").split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False  # being written, or not ours to judge
    if host != socket.gethostname() or pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but belongs to someone else (EPERM): alive
        return False
    return False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
