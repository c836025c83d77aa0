"""What the command lines (``python -m pipeline ...``) do with failures: one line on stderr,
never a traceback. A user's mistake (bad file, bad setting, unwritable output) exits 2,
Ctrl-C exits 130 (128 + SIGINT, as shells report it)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import SettingsError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def interruptible(main: Callable[[], int], message: str = "interrupted") -> int:
    """Run ``main``; Ctrl-C ends it with one line (``message``) and status 130. The KeyboardInterrupt
    unwinds the stack, so writers remove their temporary files on the way out. An interrupt
    that a library turns into another error (numpy or torch interrupted while loading raise
    ImportError) or that ``main`` reports as an error still counts as the interrupt."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return main()  # started with Ctrl-C ignored (nohup, `&`): keep it that way
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        code = main()
    except BaseException:
        if not interrupted:
            raise
        code = EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        sys.stdout.flush()
        print(message, file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    return code


def exit_at_once_on_sigint(message: str = "interrupted") -> None:
    """From now on Ctrl-C ends the process at once with one line and status 130, without
    unwinding. For the moments a KeyboardInterrupt cannot be relied on: while numpy, OpenCV,
    torch or Blender load (an interrupted C-extension import surfaces as some other error),
    and in headless Blender jobs, where Blender catches exceptions inside render callbacks
    and operators, prints their traceback and carries on. Outputs there are renamed into
    place only when complete, so nothing unfinished looks finished."""

    def on_sigint(signum: int, frame: object) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)

    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, on_sigint)


def check_output_path(
    path: str | os.PathLike[str], creates_folders: bool, flag: str = "-o/--output"
) -> None:
    """Refuse an output path that cannot be written, before any work is done: its folder must
    be a writable folder (with ``creates_folders``, the nearest existing one above it: the
    writer creates the rest), and the path itself must not be a folder."""
    target = Path(path)
    if target.is_dir():
        raise SettingsError(f"{flag}: '{target}' is a folder; give a file name.")
    folder = target.parent if str(target.parent) else Path(".")
    if not creates_folders and not folder.exists():
        raise SettingsError(f"{flag}: the folder '{folder}' does not exist.")
    while not folder.exists() and folder != folder.parent:
        if folder.is_symlink():
            raise SettingsError(f"{flag}: '{folder}' is a broken link.")
        folder = folder.parent
    if not folder.is_dir():
        raise SettingsError(f"{flag}: cannot write '{target}': '{folder}' is a file, not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SettingsError(f"{flag}: cannot write '{target}': the folder '{folder}' is read-only.")
