"""Types shared by the operators (for mypy with fake-bpy-module only)."""

from __future__ import annotations

from typing import Literal

OperatorResult = set[Literal["RUNNING_MODAL", "CANCELLED", "FINISHED", "PASS_THROUGH", "INTERFACE"]]
