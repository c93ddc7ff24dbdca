"""The conformance harness: targets, state machines, the pytest plugin, the CLI and reports."""

__version__ = "0.1.0"
