"""The Blender-side tests and the headless main job on every Blender the manifest promises.

    python3 scripts/test_compat.py [VERSION ...]        (make test-compat)

Versions (default): the latest bpy 4.2.x (LTS), the latest 4.5.x (LTS), 5.0.1 and the newest
5.x, each found with ``pip index versions bpy``; or ONESHOT3D_COMPAT_VERSIONS="4.2.23 5.3.0".
Each version gets its own venv (bpy + the test pins of requirements.txt) under a cache folder
outside the repository that survives clean clones:
``${ONESHOT3D_COMPAT_CACHE:-~/.cache/oneshot3d-compat}``; a second run installs nothing.

Blender 5.1+ is built for Python 3.13. A working ``python3.13`` (PATH, or pyenv's) is used when
the machine has one; otherwise (or with ONESHOT3D_COMPAT_CHROOT=1) a Debian 13 root is built
once in the cache with debootstrap and the tests run in it with chroot, the repository (and the
``../shared`` folder beside it) bind-mounted at the same paths.

For each version: ``pytest tests/blender``, then ``scripts/install_and_run.py`` on the sample
with ``--preset SWING`` (exit 0, a video whose frames differ, the bundled OpenCV wheel installed
for that Blender's Python). One line per version; exit 1 if any version failed.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(
    os.environ.get("ONESHOT3D_COMPAT_CACHE") or Path.home() / ".cache" / "oneshot3d-compat"
)
FIXED = ("5.0.1",)
LTS_SERIES = ("4.2", "4.5")
# Test-side packages besides bpy: the pins of requirements.txt.
TEST_PACKAGES = ("opencv-contrib-python-headless", "pytest", "pytest-timeout")
DEBIAN_PACKAGES = (
    "libx11-6 libxrender1 libxxf86vm1 libxfixes3 libxi6 libxkbcommon0 libsm6 libgl1 libegl1 "
    "libxext6 libwayland-client0"
).split()
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(msg: str) -> None:
    print(f"[test-compat] {msg}", flush=True)


def python_series(version: str) -> str:
    """The Python a bpy wheel is built for: 3.13 from Blender 5.1, 3.11 before."""
    major, minor = (int(v) for v in version.split(".")[:2])
    return "3.13" if (major, minor) >= (5, 1) else "3.11"


def test_pins(series: str) -> list[str]:
    """requirements.txt's pins of TEST_PACKAGES; for Python 3.11 also its numpy line (Blender
    4.2-5.0 ship numpy 1.26, but the bpy 4.2 wheel does not pin it); bpy 5.1+ pins numpy 2."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*[=<>]", line.strip())
        if m:
            pins[m[1].lower()] = line.strip()
    names = (*TEST_PACKAGES, "numpy") if series == "3.11" else TEST_PACKAGES
    return [pins[name] for name in names]


@dataclass
class Python:
    """An interpreter of one series, on the host or in the Debian 13 root."""

    series: str
    exe: str  # path as the interpreter sees it
    chroot: Path | None = None
    mounts: list[Path] = field(default_factory=list)

    def host_path(self, path: str | Path) -> Path:
        return Path(path) if self.chroot is None else self.chroot / str(path).lstrip("/")

    def command(self, args: list[str], env: dict[str, str] | None = None) -> list[str]:
        if self.chroot is None:
            return args
        inner = ["HOME=/root", f"PATH={CHROOT_PATH}", "LANG=C.UTF-8"]
        inner += [f"{k}={v}" for k, v in (env or {}).items()]
        return ["chroot", str(self.chroot), "/usr/bin/env", "-i", *inner, *args]

    def run(
        self, args: list[str], env: dict[str, str] | None = None, **kw
    ) -> subprocess.CompletedProcess:
        full_env = None if self.chroot is not None else {**os.environ, **(env or {})}
        return subprocess.run(self.command(args, env), env=full_env, **kw)


def works(exe: str, series: str) -> bool:
    try:
        out = subprocess.run(
            [exe, "-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == series


def host_python(series: str) -> str | None:
    """A working ``pythonX.Y`` on this machine (a pyenv shim that refuses does not count)."""
    candidates = [shutil.which(f"python{series}") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{series}*/bin/python{series}"))[::-1]
    candidates += [f"/usr/bin/python{series}", f"/usr/local/bin/python{series}"]
    return next((c for c in candidates if c and works(c, series)), None)


def debian_root() -> Path:
    """The Debian 13 root with Python 3.13 and bpy's X11/GL client libraries (built once)."""
    root = CACHE / "debian13"
    done = root / ".oneshot3d-ready"
    if done.exists():
        return root
    if shutil.which("debootstrap") is None:
        log("installing debootstrap")
        subprocess.run(["apt-get", "install", "-y", "-q", "debootstrap"], check=True)
    partial = CACHE / "debian13.partial"
    if partial.exists():
        unmount_all(partial)
        shutil.rmtree(partial)
    log(f"building a Debian 13 root in {partial} (once; several minutes)")
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3.13,python3.13-venv,ca-certificates",
            "trixie",
            str(partial),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    py = Python("3.13", "/usr/bin/python3.13", chroot=partial)
    with mounted(py):
        py.run(["apt-get", "install", "-y", "-q", *DEBIAN_PACKAGES], check=True)
        py.run(["apt-get", "clean"], check=True)
    done_in_partial = partial / done.name
    done_in_partial.write_text("ok\n")
    partial.rename(root)
    return root


def copy_host_config(root: Path) -> None:
    """Name resolution, pip's configuration and the host's CA bundle (pip.conf may name it)."""
    for name in ("etc/resolv.conf", "etc/pip.conf", "etc/ssl/certs/ca-certificates.crt"):
        src = Path("/") / name
        if src.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).unlink(missing_ok=True)
            shutil.copyfile(src, root / name)
    if Path("/etc/xdg/pip").is_dir():
        shutil.rmtree(root / "etc/xdg/pip", ignore_errors=True)
        shutil.copytree("/etc/xdg/pip", root / "etc/xdg/pip")


def unmount_all(root: Path) -> None:
    targets = [
        line.split()[1]
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[1].startswith(str(root) + "/")
    ]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False)


class mounted:
    """/proc, /dev, the repository and ../shared inside the root, at their host paths."""

    def __init__(self, py: Python):
        self.py = py

    def __enter__(self) -> Python:
        root = self.py.chroot
        if root is None:
            return self.py
        copy_host_config(root)
        # (what, where it appears): ../shared may be a link, so it is mounted at its own name.
        binds = [(Path("/dev"), Path("/dev")), (ROOT, ROOT)]
        if (ROOT.parent / "shared").is_dir():
            binds.append(((ROOT.parent / "shared").resolve(), ROOT.parent / "shared"))
        (root / "proc").mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
        for src, where in binds:
            dst = root / str(where).lstrip("/")
            dst.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--rbind", str(src), str(dst)], check=True)
            # Never let an unmount here propagate back to the host's /dev.
            subprocess.run(["mount", "--make-rslave", str(dst)], check=True)
        return self.py

    def __exit__(self, *exc: object) -> None:
        if self.py.chroot is not None:
            unmount_all(self.py.chroot)


def interpreter(series: str) -> Python:
    if series == "3.13" and os.environ.get("ONESHOT3D_COMPAT_CHROOT") == "1":
        exe = None
    else:
        exe = host_python(series)
    if exe is not None:
        return Python(series, exe)
    if series != "3.13":
        sys.exit(f"python{series} is needed for bpy built for Python {series}")
    return Python(series, "/usr/bin/python3.13", chroot=debian_root())


def index_versions(py: Python) -> list[str]:
    out = py.run(
        [py.exe, "-m", "pip", "index", "versions", "bpy", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    m = re.search(r"Available versions:\s*(.+)", out.stdout)
    return [v.strip() for v in m[1].split(",")] if m else []


def vkey(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", v)[:3])


def cached_versions() -> list[str]:
    return [p.name.removeprefix("bpy-") for p in CACHE.glob("bpy-*") if p.is_dir()]


def choose_versions(interp: dict[str, Python]) -> list[str]:
    if len(sys.argv) > 1:
        return sys.argv[1:]
    if os.environ.get("ONESHOT3D_COMPAT_VERSIONS"):
        return os.environ["ONESHOT3D_COMPAT_VERSIONS"].split()
    old = index_versions(interp["3.11"]) or cached_versions()
    new = index_versions(interp["3.13"]) or cached_versions()
    chosen = []
    for series in LTS_SERIES:
        found = sorted((v for v in old if v.startswith(series + ".")), key=vkey)
        if not found:
            sys.exit(f"no bpy {series}.x found on the package index or in {CACHE}")
        chosen.append(found[-1])
    chosen += FIXED
    newest = sorted((v for v in new if vkey(v)[0] == 5 and re.fullmatch(r"[\d.]+", v)), key=vkey)
    if not newest:
        sys.exit(f"no bpy 5.x for Python 3.13 found on the package index or in {CACHE}")
    if newest[-1] not in chosen:
        chosen.append(newest[-1])
    return chosen


def venv_for(version: str, py: Python) -> str:
    """The venv's python (as the interpreter sees it), installed unless already complete."""
    base = "/opt/oneshot3d" if py.chroot is not None else str(CACHE)
    venv = f"{base}/bpy-{version}"
    want = "\n".join([f"bpy=={version}", *test_pins(py.series), py.exe]) + "\n"
    stamp = py.host_path(venv) / ".oneshot3d-compat"
    if stamp.exists() and stamp.read_text() == want:
        return f"{venv}/bin/python"
    log(f"installing bpy {version} into {py.host_path(venv)} (once)")
    if py.host_path(venv).exists():
        shutil.rmtree(py.host_path(venv))
    py.host_path(venv).parent.mkdir(parents=True, exist_ok=True)
    py.run([py.exe, "-m", "venv", venv], check=True)
    py.run(
        [f"{venv}/bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        + [f"bpy=={version}", *test_pins(py.series)],
        check=True,
    )
    stamp.write_text(want)
    return f"{venv}/bin/python"


@dataclass
class Result:
    version: str
    python: str = "?"
    numpy: str = "?"
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    headless: str = "not run"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0 and self.headless.startswith("ok")

    def line(self) -> str:
        return (
            f"bpy {self.version:<7} Python {self.python:<5} numpy {self.numpy:<6} "
            f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped; "
            f"headless SWING: {self.headless}; {self.seconds:.0f} s"
        )


def junit_counts(path: Path) -> tuple[int, int, int]:
    if not path.exists():
        return 0, 1, 0
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    return total - failed - skipped, failed, skipped


CHECK_VIDEO = """
import glob, json, sys
import cv2, numpy as np
out, user, series = sys.argv[1:]
videos = sorted(glob.glob(out + "/**/*.mp4", recursive=True))
assert videos, "no video written"
cap = cv2.VideoCapture(videos[0])
frames = []
while True:
    ok, f = cap.read()
    if not ok:
        break
    frames.append(f.astype(np.float64))
assert len(frames) >= 4, f"{len(frames)} frames"
diff = max(np.abs(f - frames[0]).mean() for f in frames[1:])
assert diff > 1.0, f"frames do not differ (mean abs difference {diff:.3f})"
site = glob.glob(f"{user}/extensions/.local/lib/python{series}/site-packages/cv2/__init__.py")
assert site, f"the bundled OpenCV wheel did not install for Python {series}"
print(json.dumps({"frames": len(frames), "max_mean_diff": round(diff, 2)}))
"""


def run_version(version: str, py: Python, logs: Path) -> Result:
    res = Result(version)
    t0 = time.perf_counter()
    exe = venv_for(version, py)
    info = py.run(
        [exe, "-c", "import sys, numpy; print('%d.%d' % sys.version_info[:2], numpy.__version__)"],
        capture_output=True,
        text=True,
    )
    if info.returncode == 0:
        res.python, res.numpy = info.stdout.split()
    with tempfile.TemporaryDirectory(prefix="oneshot3d-compat-", dir=py.host_path("/tmp")) as t:
        inner_tmp = "/tmp/" + Path(t).name if py.chroot is not None else t
        junit = f"{inner_tmp}/junit.xml"
        log_file = logs / f"bpy-{version}.log"
        with open(log_file, "w") as fh:
            py.run(
                [
                    exe,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "--durations=8",
                    "--junitxml",
                    junit,
                ]
                + [str(ROOT / "tests" / "blender")],
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        res.passed, res.failed, res.skipped = junit_counts(py.host_path(junit))
        out, user = f"{inner_tmp}/out", f"{inner_tmp}/user"
        env = {"BLENDER_USER_RESOURCES": user, "XDG_CACHE_HOME": f"{inner_tmp}/cache"}
        with open(logs / f"bpy-{version}-headless.log", "w") as fh:
            # The zip that install_and_run.py installs, built by this version's extension tool.
            build = py.run(
                [exe, str(ROOT / "scripts" / "build_extension.py")],
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
            job = py.run(
                [
                    exe,
                    str(ROOT / "scripts" / "install_and_run.py"),
                    str(ROOT / "samples" / "sample.png"),
                ]
                + ["--depth", str(ROOT / "samples" / "sample_depth.npy"), "--depth-kind", "depth"]
                + ["--output", out, "--preset", "SWING", "--frames", "12", "--samples", "4"],
                env=env,
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=900,
            )
            check = py.run(
                [exe, "-c", CHECK_VIDEO, out, user, res.python],
                capture_output=True,
                text=True,
            )
            fh.write(check.stdout + check.stderr)
        if build.returncode != 0:
            res.headless = f"building the zip failed (exit {build.returncode})"
        elif job.returncode != 0:
            res.headless = f"exit {job.returncode}"
        elif check.returncode != 0:
            res.headless = "bad output: " + (check.stderr.strip().splitlines() or ["?"])[-1]
        else:
            stats = json.loads(check.stdout)
            res.headless = f"ok ({stats['frames']} frames differ by up to {stats['max_mean_diff']})"
    res.seconds = time.perf_counter() - t0
    return res


def main() -> int:
    t0 = time.perf_counter()
    CACHE.mkdir(parents=True, exist_ok=True)
    logs = CACHE / "logs"
    logs.mkdir(exist_ok=True)
    interp = {s: interpreter(s) for s in ("3.11", "3.13")}
    for py in interp.values():
        where = f"chroot {py.chroot}" if py.chroot else py.exe
        log(f"Python {py.series}: {where}")
    with mounted(interp["3.13"]):
        versions = choose_versions(interp)
        log("versions: " + ", ".join(versions) + f"; cache {CACHE}; logs {logs}")
        results = []
        for version in versions:
            res = run_version(version, interp[python_series(version)], logs)
            results.append(res)
            print(("PASS " if res.ok else "FAIL ") + res.line(), flush=True)
    print(f"test-compat: {time.perf_counter() - t0:.0f} s in all", flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
