"""Tiefenrausch without PyTorch where the extension carries no ONNX Runtime (Intel macOS): the
official graph translated into a float ONNX model in memory (:mod:`.tiefenrausch_float`) and
run by OpenCV's DNN module (the OpenCV wheel the extension bundles anyway).

The ONNX bytes are handed to ``cv2.dnn.readNetFromONNX`` as a buffer; with a cache folder they
are also kept there, so a fresh worker skips parsing and translating (see ``load_model``).
torch is never imported (neither here nor by the modules this one uses).

Speed (issue #14; per-layer profile at 384 x 288, 1 thread, OpenCV 4.11 on a 2-core AVX2
EPYC): ~6.8 GMAC, 70 % of the time in the 96 1x1 convolutions (the full-resolution 32- and
48-channel ones run at half the FLOP rate of the others), 17 % in the 48 depthwise ones, ~5 %
each in the 39 Add (+ Clip) and the 5 nearest resizes (OpenCV fuses each Clip into the
convolution before it, a ReLU6 with other bounds). This plain float graph is the fastest form
found in OpenCV: its int8 path (QLinearConv) is about 2x slower per layer here, a depthwise
ConvTranspose in place of Resize + depthwise conv is slower, other Resize modes are up to 3x
slower, Sum maps to the same layer as Add, and every Clip after an Add or a saturating
(zero point 127/128) convolution is needed: none is provably inactive (interval bounds), and
dropping them moves the median error to 1.8 %.

Preprocessing and the output grid are the official script's, shared with the torch backend.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from ..errors import ModelError
from .registry import DepthBackend, register
from .tiefenrausch_float import INPUT, onnx_model
from .tiefenrausch_graph import INIT_FILE, NET_FILE, GridNetwork
from .translation_cache import TranslatedNetwork

NAME = "tiefenrausch-opencv"


class OpenCVTiefenrausch(GridNetwork):
    """The loaded network (a cv2.dnn.Net, one forward at a time); ``predict`` gives what
    :class:`.tiefenrausch.TiefenrauschModel` does in float mode."""

    runtime = "OpenCV"

    def __init__(
        self, onnx: bytes | np.ndarray, input_scale: float, input_zp: int, paths: tuple[str, str]
    ) -> None:
        self.input_scale = float(input_scale)
        self.input_zp = int(input_zp)
        self.paths = paths
        try:
            self.net = cv2.dnn.readNetFromONNX(np.frombuffer(onnx, np.uint8))
        except cv2.error as e:
            raise ModelError(
                f"OpenCV {cv2.__version__} cannot load the translated Tiefenrausch network "
                f"from '{paths[0]}': {str(e).strip().splitlines()[-1]}"
            ) from None
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self._lock = threading.Lock()  # a cv2.dnn.Net runs one forward at a time

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            self.net.setInput(x, INPUT)
            return self.net.forward()  # type: ignore[no-any-return]


# Bump the version when onnx_model's output changes, so that older translations are not reused.
NETWORK = TranslatedNetwork(NAME, 1, onnx_model, OpenCVTiefenrausch)
load_model = NETWORK.load  # (net path, init path, cache_dir=None) -> OpenCVTiefenrausch
translation_path = NETWORK.translation_path
estimate_native = NETWORK.estimate_native
estimate = NETWORK.estimate


register(
    DepthBackend(
        name=NAME,
        label="Tiefenrausch (no PyTorch)",
        licence="MIT",
        input_size="long side 384, both sides multiples of 32",
        needs_torch=False,
        estimate=estimate,
        models=(NET_FILE, INIT_FILE),
        description=(
            "The paper's mobile depth network (3.8 MB) run by OpenCV, which the extension "
            "bundles: works right after installing, nothing else to install."
        ),
    )
)
