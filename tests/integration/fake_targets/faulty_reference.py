"""The reference cluster over stdio, with one fault chosen on the command line.

--crash-on OP: at the first request with that op, log "faulty_reference: crashing on OP"
  to stderr and exit with code 7 without answering (hello and the rest answer as usual).
--drift: every `now` a snapshot answers is shifted by one second per `reset` served so
  far, a counter that `reset` itself never clears; so the same scenario replayed after a
  reset answers differently: a nondeterministic target that claims `reset` and `clock`.
"""

import argparse
import datetime
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from conformance.stdio_server import serve_stdio
from conformance.targets import ReferenceTarget


def _later(now: str, seconds: int) -> str:
    moment = datetime.datetime.fromisoformat(now.replace("Z", "+00:00"))
    return (moment + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crash-on", metavar="OP")
    parser.add_argument("--drift", action="store_true")
    args = parser.parse_args()
    target = ReferenceTarget()
    resets = 0

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        nonlocal resets
        op = request.get("op")
        if op == args.crash_on:
            sys.stderr.write(f"faulty_reference: crashing on {op}\n")
            sys.stderr.flush()
            sys.exit(7)
        answer = target.request(request)
        if op == "reset":
            resets += 1
        if args.drift and op == "snapshot" and answer.get("ok"):
            answer["now"] = _later(answer["now"], resets)
        return answer

    return serve_stdio(handle)


if __name__ == "__main__":
    sys.exit(main())
