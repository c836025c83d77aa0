"""Headless 3D photo import (and preview render) for scripts and farms.

    blender -b --python scripts/oneshot3d.py -- PHOTO --depth FILE --depth-kind depth --output DIR
    python scripts/oneshot3d.py PHOTO --depth FILE --depth-kind depth --output DIR   (bpy module)

Uses the installed extension when Blender has it, else loads it from this checkout.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from pathlib import Path
from types import ModuleType

CHECKOUT = Path(__file__).resolve().parents[1]
EXTENSION_ID = "oneshot3d"
# What this script registered, undone by release_extension(): bpy 4.2-4.5 as a module crash
# (signal 11) or hang at interpreter exit while classes or a --command handler are registered.
_registered: list[ModuleType] = []
_enabled: list[str] = []


def ensure_extension() -> ModuleType:
    """The extension's package, registered in this Blender session."""
    import bpy  # first: importing bpy puts Blender's own modules (addon_utils) on the path

    # isort: split
    import addon_utils

    for name, module in sys.modules.items():
        if (
            name.endswith("." + EXTENSION_ID)
            and name.startswith("bl_ext.")
            and hasattr(bpy.types, "ONESHOT3D_OT_import_photo")
        ):
            return module
    for repo in bpy.context.preferences.extensions.repos:
        if (
            repo.enabled
            and (Path(repo.directory) / EXTENSION_ID / "blender_manifest.toml").exists()
        ):
            name = f"bl_ext.{repo.module}.{EXTENSION_ID}"
            addon_utils.enable(name, default_set=True)
            _enabled.append(name)
            if name in sys.modules and hasattr(bpy.types, "ONESHOT3D_OT_import_photo"):
                return sys.modules[name]
    loaded = sys.modules.get(EXTENSION_ID)
    if loaded is not None and hasattr(loaded, "__path__"):  # the package, not this script
        return loaded
    # Not installed: load this checkout as the package "oneshot3d" and register it.
    spec = importlib.util.spec_from_file_location(
        EXTENSION_ID, CHECKOUT / "__init__.py", submodule_search_locations=[str(CHECKOUT)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[EXTENSION_ID] = module
    spec.loader.exec_module(module)
    module.register()
    _registered.append(module)
    return module


def release_extension() -> None:
    """Unregister what ensure_extension() registered (an extension that was already enabled
    stays as it was)."""
    import addon_utils

    while _registered:
        _registered.pop().unregister()
    while _enabled:
        addon_utils.disable(_enabled.pop(), default_set=True)


def script_argv() -> list[str]:
    """Arguments after ``--`` under ``blender --python``, else the plain command line."""
    if "--" in sys.argv:
        return sys.argv[sys.argv.index("--") + 1 :]
    return sys.argv[1:]


INTERRUPTED = "oneshot3d: interrupted"


def _exit_on_sigint() -> None:
    """Ctrl-C ends the job at once with one line and status 130, from the first moment
    (Blender's modules loading) to the last. Not a KeyboardInterrupt: Blender would catch it
    inside a render or an operator, print a traceback and go on (the same handler as
    pipeline.runtime.cli_errors.exit_at_once_on_sigint, which cannot be imported before the extension
    is found). Outputs are renamed into place only when complete."""

    def on_sigint(signum: int, frame: object) -> None:
        sys.stderr.write(INTERRUPTED + "\n")
        sys.stderr.flush()
        os._exit(130)

    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, on_sigint)


def main() -> int:
    _exit_on_sigint()
    extension = ensure_extension()
    try:
        cli_args = importlib.import_module(extension.__name__ + ".blender.cli_args")
        batch = importlib.import_module(extension.__name__ + ".blender.batch")
        args = cli_args.build_parser("oneshot3d.py").parse_args(script_argv())
        _exit_on_sigint()  # again: loading Blender may have replaced the handler
        return int(batch.run_batch(args))
    finally:
        release_extension()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Under `blender --python`, sys.exit from a script does not end Blender with that code
    # unless Python exits; os._exit would skip Blender's cleanup, so sys.exit is right here.
    sys.exit(code)
