import sys

from .runtime.cli_errors import exit_at_once_on_sigint

exit_at_once_on_sigint()  # while numpy and OpenCV load; cli.main then unwinds on Ctrl-C

from .runtime.cli import main  # noqa: E402

sys.exit(main())
