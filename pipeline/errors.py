"""Errors the pipeline raises. Each message names the file or setting at fault and says what to do."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a problem the user can fix (bad file, bad setting, missing model)."""


class ImageReadError(PipelineError):
    """A photo could not be read."""


class DepthFileError(PipelineError):
    """A depth map could not be read or holds no usable depth."""


class SettingsError(PipelineError, ValueError):
    """A setting is out of its valid range."""


class ModelError(PipelineError):
    """A depth or inpainting model is missing, corrupt or failed to download."""


class CancelledError(PipelineError):
    """The user cancelled a running job."""
