"""`kubeprop serve`'s options, its set-up (nodes, kubeconfig) and the uvicorn server.

uvicorn is given a socket bound here, so that `--port 0` can print the port
the kernel picked before the first request arrives (connections made in the
meantime wait in the listen backlog).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from pathlib import Path

import uvicorn
import yaml

from conformance.collector import tune_collector
from conformance.serve.app import Served, make_app
from reference.cluster import Components, new_cluster

__all__ = ["kubeconfig", "run"]

#: Each simulated machine's capacity: a modest worker.
NODE_CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110"}
#: The cluster extension that tells a client how fast the cluster's clock runs.
CLOCK_EXTENSION = "kubeprop.io/clock"


def kubeconfig(url: str, time_scale: float) -> dict[str, object]:
    """A kubeconfig with one cluster, user and context, all named `kubeprop`.

    The cluster entry carries the time scale as an extension (a named
    extension, as minikube writes its own; kubectl keeps and ignores it), so
    that a client reading the served clock from `Date` knows its rate.
    """
    clock = {"name": CLOCK_EXTENSION, "extension": {"timeScale": float(time_scale)}}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubeprop", "cluster": {"server": url, "extensions": [clock]}}],
        "users": [{"name": "kubeprop", "user": {}}],
        "contexts": [
            {
                "name": "kubeprop",
                "context": {"cluster": "kubeprop", "user": "kubeprop", "namespace": "default"},
            }
        ],
        "current-context": "kubeprop",
    }


def _components(config: Path | None) -> Components | None:
    if config is None:
        return None
    from conformance.reference_config import configured

    return configured(Components(), config)


def run(args: argparse.Namespace) -> int:
    tune_collector()
    if args.nodes < 0 or args.time_scale < 0:
        print("kubeprop serve: --nodes and --time-scale must not be negative", file=sys.stderr)
        return 2
    try:
        components = _components(args.config)
    except ValueError as e:
        print(f"kubeprop serve: {e}", file=sys.stderr)
        return 2
    served = Served(new_cluster(args.seed, components), args.time_scale)
    for i in range(1, args.nodes + 1):
        answer = served.send({"op": "node.add", "name": f"node-{i}", "capacity": NODE_CAPACITY})
        if not answer.get("ok"):
            print(f"kubeprop serve: node.add refused: {answer}", file=sys.stderr)
            return 3
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections: without it a small reply written in two pieces waits
    # out the client's delayed ACK (about 40 ms a request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(("127.0.0.1", args.port))
    except OSError as e:
        print(f"kubeprop serve: cannot listen on 127.0.0.1:{args.port}: {e}", file=sys.stderr)
        return 2
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    if args.kubeconfig is not None:
        written = kubeconfig(url, args.time_scale)
        args.kubeconfig.write_text(yaml.safe_dump(written, sort_keys=False))
    logging.basicConfig(level=logging.INFO, format="kubeprop serve: %(message)s")
    config = uvicorn.Config(
        make_app(served),
        log_level="warning",
        access_log=args.access_log,
        timeout_graceful_shutdown=1,
        lifespan="on",
        date_header=False,
    )
    print(f"serving on {url}", flush=True)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))
    return 0
