"""One Shot 3D Photo pipeline: photo + depth -> layered, inpainted, textured mesh.

This package never imports bpy. It runs standalone as the top-level package ``pipeline``
(worker process, command line, unit tests) and as ``<extension>.pipeline`` inside Blender,
so it only uses relative imports within itself.
"""

__all__ = ["PipelineError", "PipelineSettings"]

from .errors import PipelineError
from .settings import PipelineSettings
