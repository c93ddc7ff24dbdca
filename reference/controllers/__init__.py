"""Control-plane controllers: each a pure `reconcile(view, now, state) -> Reconcile`."""

from reference.controllers.base import Controller, Reconcile, View
from reference.controllers.daemonset import DaemonSetController
from reference.controllers.deployment import DeploymentController
from reference.controllers.endpoints import EndpointsController
from reference.controllers.endpointslice import EndpointSliceController
from reference.controllers.garbagecollector import GarbageCollector
from reference.controllers.namespace import NamespaceController
from reference.controllers.nodelifecycle import NodeLifecycleController
from reference.controllers.podgc import PodGarbageCollector
from reference.controllers.replicaset import ReplicaSetController
from reference.controllers.statefulset import StatefulSetController
from reference.controllers.tainteviction import TaintEvictionController

__all__ = [
    "Controller",
    "DaemonSetController",
    "DeploymentController",
    "EndpointSliceController",
    "EndpointsController",
    "GarbageCollector",
    "NamespaceController",
    "NodeLifecycleController",
    "PodGarbageCollector",
    "Reconcile",
    "ReplicaSetController",
    "StatefulSetController",
    "TaintEvictionController",
    "View",
]
