"""The laws of Kubernetes and the trace they read, plus the small shared vocabulary.

Pure: no I/O, no clock, no randomness; imports nothing from ``reference`` or
``conformance``, so a third party can check its traces with this package alone.
"""

from properties.laws import LAWS, Law, laws_for
from properties.trace import Exchange, TargetInfo, Trace, Violation

__all__ = ["LAWS", "Exchange", "Law", "TargetInfo", "Trace", "Violation", "laws_for"]
