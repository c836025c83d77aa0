"""Tiefenrausch without PyTorch, the default where PyTorch is not installed: the official graph
translated into a float ONNX model in memory (:mod:`.tiefenrausch_float`) and run by ONNX
Runtime, whose wheels the extension zip carries for Linux, Windows and Apple-silicon macOS
(Python 3.11 and 3.13). Where it has none (Intel macOS), :mod:`.tiefenrausch_opencv` runs the
same model in OpenCV.

The same ONNX model, so the same depth as the OpenCV backend, in about 70 % of the time: on
this project's 2-core AVX2 EPYC, one 384 x 288 prediction takes ~180-200 ms with 2 threads
against ~250 ms in OpenCV, both in one process, interleaved (see the README).

``onnxruntime`` is imported only when the network is loaded; where it cannot be (a wheel for
a newer OS than this one), the model runs in OpenCV instead. torch is never imported.
"""

from __future__ import annotations

import sys

import numpy as np

from ..errors import ModelError
from ..runtime.parallel import workers
from .availability import installed
from .registry import DepthBackend, register
from .tiefenrausch_float import INPUT, onnx_model
from .tiefenrausch_graph import INIT_FILE, NET_FILE, GridNetwork, QGraph
from .tiefenrausch_opencv import OpenCVTiefenrausch
from .translation_cache import TranslatedNetwork

NAME = "tiefenrausch-onnx"
PACKAGE = "onnxruntime"  # the import name the backend needs


def free_size_model(graph: QGraph) -> bytes:
    """The float model with a free input size (the photo's aspect ratio sets it)."""
    return onnx_model(graph, "h", "w")


class RuntimeUnavailable(ModelError):
    """The onnxruntime package is missing or does not load here."""


class OnnxTiefenrausch(GridNetwork):
    """The loaded network (an ONNX Runtime session; safe to run from several threads)."""

    runtime = "ONNX Runtime"

    def __init__(
        self, onnx: bytes | np.ndarray, input_scale: float, input_zp: int, paths: tuple[str, str]
    ) -> None:
        try:
            import onnxruntime as ort
        except (ImportError, OSError) as e:  # OSError: its shared library does not load
            raise RuntimeUnavailable(f"ONNX Runtime cannot be loaded ({e})") from None
        self.input_scale = float(input_scale)
        self.input_zp = int(input_zp)
        self.paths = paths
        options = ort.SessionOptions()
        # The CPUs this process may use (ONNX Runtime would count the machine's cores, which
        # oversubscribes containers), at most 4: a 384 px network gains nothing from more.
        options.intra_op_num_threads = workers()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no warnings on the worker's stderr
        # One prediction per photo: idle pool threads must not spin and take the cores that
        # the LDI stages need right after.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                bytes(onnx), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own Fail / InvalidGraph types
            raise ModelError(
                f"ONNX Runtime {ort.__version__} cannot load the translated Tiefenrausch network "
                f"from '{paths[0]}': {str(e).strip().splitlines()[-1]}"
            ) from None

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {INPUT: x})[0]  # type: ignore[no-any-return]


def load_runtime(
    onnx: bytes | np.ndarray, input_scale: float, input_zp: int, paths: tuple[str, str]
) -> GridNetwork:
    """The model in ONNX Runtime, or, where the installed package does not load (say its
    Apple-silicon wheel on a macOS older than the wheel supports), the same model in OpenCV:
    the same depth in about 1.4x the time, rather than a failed import. Where ONNX Runtime is
    not installed at all, ModelError says what to do (the preferences show it as needed)."""
    try:
        return OnnxTiefenrausch(onnx, input_scale, input_zp, paths)
    except RuntimeUnavailable as e:
        if not installed(PACKAGE):
            raise ModelError(
                f"{e}: it is not installed here. Reinstall the extension's zip for this "
                "platform, or choose the depth backend 'tiefenrausch-opencv'."
            ) from None
        print(f"[oneshot3d] {e}; running the same network in OpenCV.", file=sys.stderr)
        return OpenCVTiefenrausch(onnx, input_scale, input_zp, paths)


# Bump the version when free_size_model's output changes, so that older translations are not reused.
NETWORK = TranslatedNetwork(NAME, 1, free_size_model, load_runtime)
load_model = NETWORK.load  # (net path, init path, cache_dir=None) -> the loaded network
translation_path = NETWORK.translation_path
estimate_native = NETWORK.estimate_native
estimate = NETWORK.estimate


register(
    DepthBackend(
        name=NAME,
        label="Tiefenrausch (ONNX Runtime, no PyTorch)",
        licence="MIT",
        input_size="long side 384, both sides multiples of 32",
        needs_torch=False,
        needs_package=PACKAGE,
        estimate=estimate,
        models=(NET_FILE, INIT_FILE),
        description=(
            "The paper's mobile depth network (3.8 MB) run by ONNX Runtime, which the extension "
            "bundles: works right after installing, and is the fastest."
        ),
    )
)
