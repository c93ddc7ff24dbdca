"""The laws of Kubernetes and the trace they read, plus the small shared vocabulary.

Pure: no I/O, no clock, no randomness; imports nothing from ``reference`` or
``conformance``.
"""
