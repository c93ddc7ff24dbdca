"""A hand-written protocol target whose misbehaviour is chosen by the op it receives.

Ops: "crash" exits with code 3, "sigkill" kills itself, "hang" never answers,
"garbage" prints a line that is not JSON, "array" answers a JSON array,
"not-utf8" answers bytes that are not UTF-8, "wrong-id" answers with the next
id, "no-ok" answers without "ok", "flood" writes `lines` lines to stderr
before answering, "advance" sleeps `sleep` seconds before answering. Any
other op answers {"ok": true, "seen_id": id, "op": op}. Before misbehaving
it logs "misbehaving: <op>" to stderr, which the tests look for in the fault.

--ignore-eof: keep running after stdin closes, and ignore SIGTERM.
"""

import json
import os
import signal
import sys
import time


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def answer(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> None:
    ignore_eof = "--ignore-eof" in sys.argv
    if ignore_eof:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log("misbehaving: started")
    for line in sys.stdin:
        request = json.loads(line)
        rid, op = request["id"], request["op"]
        log(f"misbehaving: {op}")
        if op == "crash":
            sys.exit(3)
        elif op == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif op == "hang":
            time.sleep(3600)
        elif op == "garbage":
            print("this is not json", flush=True)
        elif op == "array":
            answer([rid, True])
        elif op == "not-utf8":
            sys.stdout.buffer.write(b'{"id": 1, "ok": true, "x": "\xff"}\n')
            sys.stdout.flush()
        elif op == "wrong-id":
            answer({"id": rid + 1, "ok": True})
        elif op == "no-ok":
            answer({"id": rid, "object": {}})
        elif op == "flood":
            for i in range(request["lines"]):
                sys.stderr.write(f"flood line {i:06d} " + "x" * 80 + "\n")
            log("misbehaving: flood done")
            answer({"id": rid, "ok": True})
        elif op == "advance":
            time.sleep(request["sleep"])
            answer({"id": rid, "ok": True, "now": "2025-01-01T00:00:00Z"})
        else:
            answer({"id": rid, "ok": True, "seen_id": rid, "op": op})
    log("misbehaving: stdin closed")
    if ignore_eof:
        time.sleep(3600)


if __name__ == "__main__":
    main()
