import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while numpy / OpenCV load
    print("interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
