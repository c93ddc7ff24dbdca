"""`kubeprop serve`'s command-line options, kept apart so that building the CLI's parser
does not import the HTTP stack."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="write a kubeconfig for this server here (its cluster entry carries the time"
        " scale as the extension kubeprop.io/clock)",
    )
    parser.add_argument("--nodes", type=int, default=3, metavar="N", help="machines with kubelets")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="simulated seconds per wall second (0 stops the clock)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the cluster's seed (uids, names)")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a KubeSchedulerConfiguration (YAML) for the reference's scheduler",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
