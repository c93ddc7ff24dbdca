"""Upstream constants in one place, under their upstream names.

The protocol's `hello.parameters` reports the timing ones; laws read them from
there instead of hard-coding them.
"""

from typing import Final

KUBERNETES_VERSION: Final = "1.34.0"
REFERENCE_VERSION: Final = "0.1.0"
PROTOCOL_VERSION: Final = 1

# Timing parameters reported by `hello` (kube-controller-manager and kubelet defaults in 1.34).
TIMING_PARAMETERS: Final[dict[str, int]] = {
    "nodeMonitorGracePeriodSeconds": 50,
    "nodeMonitorPeriodSeconds": 5,
    "nodeLeaseRenewIntervalSeconds": 10,
    "defaultTolerationSeconds": 300,
    "terminationGracePeriodSeconds": 30,
    "crashLoopBackOffInitialSeconds": 10,
    "crashLoopBackOffMaxSeconds": 300,
    "crashLoopBackOffResetSeconds": 600,
    "sessionAffinityTimeoutSeconds": 10800,
}

# apimachinery
MAX_SECRET_SIZE: Final = 1024 * 1024  # core.MaxSecretSize, also the ConfigMap limit
TOTAL_ANNOTATION_SIZE_LIMIT_B: Final = 256 * 1024  # TotalAnnotationSizeLimitB
GENERATE_NAME_SUFFIX_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"
GENERATE_NAME_SUFFIX_LENGTH: Final = 5
MAX_GENERATED_NAME_LENGTH: Final = 63 - GENERATE_NAME_SUFFIX_LENGTH

# Namespaces that NamespaceLifecycle admission refuses to delete.
IMMORTAL_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public"})
SYSTEM_NAMESPACES: Final = ("default", "kube-node-lease", "kube-public", "kube-system")

# Finalizers the API server and the garbage collector own.
FINALIZER_ORPHAN: Final = "orphan"
FINALIZER_FOREGROUND: Final = "foregroundDeletion"
FINALIZER_NAMESPACE: Final = "kubernetes"

# Node taints the control plane manages (k8s.io/api/core/v1 well_known_taints.go).
TAINT_NODE_NOT_READY: Final = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE: Final = "node.kubernetes.io/unreachable"
TAINT_NODE_UNSCHEDULABLE: Final = "node.kubernetes.io/unschedulable"
TAINT_NODE_OUT_OF_SERVICE: Final = "node.kubernetes.io/out-of-service"
LABEL_EXCLUDE_DISRUPTION: Final = "node.kubernetes.io/exclude-disruption"

# kube-controller-manager: node lifecycle (--node-startup-grace-period, --node-eviction-rate,
# --secondary-node-eviction-rate, --unhealthy-zone-threshold, --large-cluster-size-threshold).
NODE_STARTUP_GRACE_SECONDS: Final = 60.0
NODE_EVICTION_RATE: Final = 0.1
SECONDARY_NODE_EVICTION_RATE: Final = 0.01
UNHEALTHY_ZONE_THRESHOLD: Final = 0.55
LARGE_CLUSTER_SIZE_THRESHOLD: Final = 50

# kube-controller-manager: pod GC (--terminated-pod-gc-threshold; gc_controller.go).
TERMINATED_POD_GC_THRESHOLD: Final = 12500
POD_GC_QUARANTINE_SECONDS: Final = 40.0
POD_GC_CHECK_PERIOD_SECONDS: Final = 20.0

# kube-apiserver: Service allocation. --service-cluster-ip-range (this is kubeadm's default
# serviceSubnet; IPv4 single stack) and --service-node-port-range (inclusive, the flag's default).
SERVICE_CLUSTER_IP_RANGE: Final = "10.96.0.0/12"
SERVICE_NODE_PORT_RANGE: Final = (30000, 32767)
# The static band at the bottom of each range, min(max(MIN, size // STEP), MAX), as (MIN, STEP,
# MAX): ipallocator's and portallocator's calculateRangeOffset (KEP-3070, KEP-3668).
SERVICE_IP_RANGE_OFFSET: Final = (16, 16, 256)
SERVICE_NODE_PORT_RANGE_OFFSET: Final = (16, 32, 128)

# kubelet: node lease (nodeLeaseDurationSeconds).
NODE_LEASE_DURATION_SECONDS: Final = 40

# The discrete-event loop: how many controller rounds one instant may take.
MAX_FIXPOINT_ROUNDS: Final = 100


#: scheduling.SystemCriticalPriority (2 x HighestUserDefinablePriority) and the two system
#: PriorityClasses built on it (pkg/apis/scheduling/v1/helpers.go), in upstream's order.
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
SYSTEM_PRIORITY_CLASSES: dict[str, int] = {
    "system-node-critical": SYSTEM_CRITICAL_PRIORITY + 1000,
    "system-cluster-critical": SYSTEM_CRITICAL_PRIORITY,
}
