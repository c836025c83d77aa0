import sys

from .cli_errors import exit_on_sigint_while_loading

exit_on_sigint_while_loading()  # numpy, OpenCV and torch take seconds to load

from .cli import main  # noqa: E402

sys.exit(main())
