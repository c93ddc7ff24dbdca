"""Control-plane controllers: each a pure `reconcile(view, now, state) -> Reconcile`."""

from reference.controllers.base import Controller, Reconcile, View
from reference.controllers.garbagecollector import GarbageCollector
from reference.controllers.namespace import NamespaceController
from reference.controllers.nodelifecycle import NodeLifecycleController
from reference.controllers.podgc import PodGarbageCollector
from reference.controllers.tainteviction import TaintEvictionController

__all__ = [
    "Controller",
    "GarbageCollector",
    "NamespaceController",
    "NodeLifecycleController",
    "PodGarbageCollector",
    "Reconcile",
    "TaintEvictionController",
    "View",
]
