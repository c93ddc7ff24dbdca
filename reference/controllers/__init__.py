"""Control-plane controllers: each a pure `reconcile(view, now, state) -> Reconcile`."""

from reference.controllers.base import Controller, Reconcile, View
from reference.controllers.garbagecollector import GarbageCollector
from reference.controllers.namespace import NamespaceController

__all__ = ["Controller", "GarbageCollector", "NamespaceController", "Reconcile", "View"]
