"""The vendored environment: pip commands, pip output parsing, status, install from a local
wheel folder into a temp folder, then importable by the worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_wheel

from pipeline.runtime import vendor
from pipeline.runtime.worker_client import State, WorkerJob, run_probe
from pipeline.runtime.worker_env import worker_pythonpath


def test_pip_command_online_variants():
    cmd = vendor.pip_install_command("/u", variant="CUDA", platform="linux")
    assert cmd[:2] == ["pip", "install"]
    assert cmd[cmd.index("--target") + 1] == str(Path("/u") / "vendor.partial")
    assert "https://download.pytorch.org/whl/cu126" in cmd
    assert cmd[-1] == vendor.TORCH_SPEC
    mac = vendor.pip_install_command("/u", variant="MPS", platform="darwin")
    assert "--index-url" not in mac
    with pytest.raises(ValueError, match="ROCM"):
        vendor.pip_install_command("/u", variant="ROCM", platform="win32")
    assert [v.key for v in vendor.available_variants("win32")] == ["CPU", "CUDA"]


def test_pip_command_offline():
    cmd = vendor.pip_install_command(
        "/u", packages=["x"], find_links="/wheels", no_index=True, constraints_file="/c.txt"
    )
    assert "--no-index" in cmd and "--index-url" not in cmd
    assert cmd[cmd.index("--find-links") + 1] == "/wheels"
    assert cmd[cmd.index("--constraint") + 1] == "/c.txt"
    assert cmd[-1] == "x"


def test_parse_pip_lines():
    assert vendor.parse_pip_line("Collecting torch>=2.4")["stage"] == "download"
    assert vendor.parse_pip_line("Successfully installed x-1")["fraction"] == 1.0
    err = vendor.parse_pip_line("ERROR: No matching distribution found for nope")
    assert err["type"] == "error" and "nope" in err["message"]
    assert vendor.parse_pip_line("  some detail") is None


def test_status_and_remove(tmp_path):
    assert not vendor.status(tmp_path).installed
    assert vendor.status(tmp_path).summary() == "Not installed"
    info = vendor.vendor_dir(tmp_path) / "torch-2.5.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.0\n")
    st = vendor.status(tmp_path)
    assert st.installed and st.torch_version == "2.5.0" and st.size_bytes > 0
    assert "torch 2.5.0" in st.summary()
    assert vendor.remove(tmp_path) and not vendor.status(tmp_path).installed
    assert not vendor.remove(tmp_path)


def test_commit_staging_replaces_atomically(tmp_path):
    with pytest.raises(FileNotFoundError):
        vendor.commit_staging(tmp_path)
    vendor.vendor_dir(tmp_path).mkdir()
    (vendor.vendor_dir(tmp_path) / "old.txt").write_text("old")
    vendor.staging_dir(tmp_path).mkdir()
    (vendor.staging_dir(tmp_path) / "new.txt").write_text("new")
    vendor.commit_staging(tmp_path)
    assert sorted(p.name for p in vendor.vendor_dir(tmp_path).iterdir()) == ["new.txt"]
    assert not vendor.staging_dir(tmp_path).exists()


def test_install_from_local_wheels_then_importable_by_worker(tmp_path):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "oneshot3d_tinypkg", "1.2.3")
    root = tmp_path / "user"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(vendor.constraints_text("1.26.4"))
    args = vendor.pip_install_command(
        root,
        packages=["oneshot3d_tinypkg"],
        find_links=wheels,
        no_index=True,
        constraints_file=constraints,
    )
    job = WorkerJob(
        args=args[1:],
        module=args[0],
        parse_line=vendor.parse_pip_line,
        pythonpath=worker_pythonpath(None),
    ).start()
    assert job.wait() is State.DONE, job.details()
    assert job.progress.fraction == 1.0
    vendor.commit_staging(root)
    st = vendor.status(root)
    assert st.packages == {"oneshot3d-tinypkg": "1.2.3"}
    info = run_probe(["oneshot3d_tinypkg"], vendor_dir=vendor.vendor_dir(root))
    assert info["oneshot3d_tinypkg"] == "1.2.3"
    assert info["oneshot3d_tinypkg_path"].startswith(str(vendor.vendor_dir(root)))
    # Without the vendored folder the worker cannot import it.
    assert run_probe(["oneshot3d_tinypkg"])["oneshot3d_tinypkg"] is None


def test_failed_install_reports_pip_error(tmp_path):
    args = vendor.pip_install_command(
        tmp_path, packages=["oneshot3d-no-such-package"], find_links=tmp_path, no_index=True
    )
    job = WorkerJob(args=args[1:], module="pip", parse_line=vendor.parse_pip_line).start()
    assert job.wait() is State.FAILED
    assert job.error_kind == "PipError" and "oneshot3d-no-such-package" in job.report()
