"""`python -m conformance.serve`, the same as `kubeprop serve`."""

import argparse
import sys

from conformance.serve.main import run
from conformance.serve.options import add_arguments


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.serve")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(_main())
