"""An echo target on `conformance.stdio_server.serve`: answers what it was asked.

op "boom" raises (a handler bug); op "print" prints to stdout (which serve
must keep off the answer stream).
"""

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from conformance.stdio_server import serve_stdio


def handle(request: dict[str, Any]) -> dict[str, Any]:
    op = request["op"]
    if op == "boom":
        raise RuntimeError("boom requested")
    if op == "print":
        print("stray output from the handler")
    return {"ok": True, "echo": op, "request": request}


if __name__ == "__main__":
    sys.exit(serve_stdio(handle))
