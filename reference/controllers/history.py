"""ControllerRevision helpers shared by the DaemonSet and StatefulSet controllers.

Upstream keeps a workload's template history as ControllerRevision objects
(pkg/controller/history/controller_history.go, and the DaemonSet's own
snapshot/cleanupHistory in pkg/controller/daemon/update.go). A revision's
`data` is the patch that would restore the template (`getPatch`: the owner's
`spec.template` marked `$patch: replace`), its `revision` a number that grows
with each new template, and its name `<owner>-<hash>`.

Two hashes exist upstream and both are here:

- `template_hash` is controller.ComputeHash, FNV-1a over the pod template
  plus the collisionCount as 8 little-endian bytes; the DaemonSet (and the
  Deployment) name revisions and label pods with it;
- `revision_hash` is history.HashControllerRevision, FNV-1 (not 1a) over the
  revision's raw data plus the collisionCount in decimal; the StatefulSet
  names revisions with it.

Upstream hashes Go's own rendering of the object (spew's dump of the struct
for ComputeHash, encoding/json's bytes for the data); the reference hashes
`canonical_json`, a deterministic rendering of the JSON it stores, so hashes
are stable and collision-prone exactly as 32-bit hashes are, but are not
bit-equal to a real cluster's (docs/fidelity.md).

Everything here is pure: functions from decoded objects to values and to
API requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from properties.labels import Selector
from reference.objects import meta, owner_refs
from reference.timefmt import parse_time

__all__ = [
    "CONTROLLER_REVISION_HASH_LABEL",
    "HASH_LABEL",
    "canonical_json",
    "equal_revision",
    "find_equal_revisions",
    "fnv32",
    "fnv32a",
    "max_revision",
    "owned_revisions",
    "revision_create",
    "revision_delete",
    "revision_hash",
    "revision_name",
    "revision_number_update",
    "safe_encode",
    "sort_revisions",
    "template_hash",
    "template_patch",
    "truncate",
]

#: apps.ControllerRevisionHashLabelKey (= DefaultDaemonSetUniqueLabelKey, StatefulSetRevisionLabel).
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
#: history.ControllerRevisionHashLabel, set on revisions made by history.NewControllerRevision.
HASH_LABEL = "controller.kubernetes.io/hash"
#: apimachinery's rand alphabet: no vowels, no 0/1/3, so hashes spell no words.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
#: ControllerRevisionName truncates the prefix so that the name fits in 253 bytes.
_MAX_PREFIX = 223

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF

Obj = Mapping[str, Any]


# -- hashing ---------------------------------------------------------------------------------------


def fnv32(data: bytes) -> int:
    """hash/fnv New32: FNV-1 (multiply, then xor)."""
    h = _FNV_OFFSET
    for b in data:
        h = (h * _FNV_PRIME) & _MASK
        h ^= b
    return h


def fnv32a(data: bytes) -> int:
    """hash/fnv New32a: FNV-1a (xor, then multiply)."""
    h = _FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * _FNV_PRIME) & _MASK
    return h


def safe_encode(s: str) -> str:
    """rand.SafeEncodeString: each character mapped into the vowel-free alphabet."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in s)


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, and `<`, `>`, `&` escaped as Go's json.Marshal does.

    The same value always renders to the same bytes, whatever order its maps
    were built in, which is what a hash of it needs.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text.encode()


def template_hash(template: Obj, collision_count: int | None) -> str:
    """controller.ComputeHash: FNV-1a of the template, salted with the collision count."""
    data = canonical_json(template)
    if collision_count is not None:
        data += (collision_count & _MASK).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv32a(data)))


def revision_hash(data: Any, probe: int | None) -> str:
    """history.HashControllerRevision: FNV-1 of the data, then the probe in decimal."""
    raw = canonical_json(data)
    if probe is not None:
        raw += str(probe).encode()
    return safe_encode(str(fnv32(raw)))


def revision_name(prefix: str, hash_: str) -> str:
    """history.ControllerRevisionName: `<prefix>-<hash>`, the prefix cut to 223 bytes."""
    return f"{prefix[:_MAX_PREFIX]}-{hash_}"


# -- revisions -------------------------------------------------------------------------------------


def template_patch(owner: Obj) -> dict[str, Any]:
    """getPatch (DaemonSet and StatefulSet alike): a patch replacing spec.template wholesale."""
    template = dict((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_create(
    owner: Obj,
    kind: str,
    data: Any,
    revision: int,
    hash_: str,
    *,
    hash_label: str = CONTROLLER_REVISION_HASH_LABEL,
) -> dict[str, Any]:
    """A `create` request for the revision `<owner>-<hash>`.

    Labels are the template's plus `hash_label` = hash (the DaemonSet's
    snapshot uses `controller-revision-hash`, history.NewControllerRevision
    `controller.kubernetes.io/hash`); annotations are the owner's; a
    controller reference points at the owner.
    """
    m = meta(owner)
    template_labels = (((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels"
    ) or {}
    revision_meta: dict[str, Any] = {
        "name": revision_name(str(m["name"]), hash_),
        "namespace": m.get("namespace", ""),
        "labels": {**template_labels, hash_label: hash_},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "name": m["name"],
                "uid": m["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if m.get("annotations"):
        revision_meta["annotations"] = dict(m["annotations"])
    return {
        "op": "create",
        "object": {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": revision_meta,
            "data": data,
            "revision": revision,
        },
    }


def revision_number_update(revision: Obj, number: int) -> dict[str, Any]:
    """An `update` request renumbering a revision (UpdateControllerRevision)."""
    obj = {k: v for k, v in revision.items() if k != "status"}
    obj["revision"] = number
    return {"op": "update", "object": obj}


def revision_delete(revision: Obj) -> dict[str, Any]:
    """A `delete` request for a revision, with a uid precondition (upstream sends none)."""
    m = meta(revision)
    return {
        "op": "delete",
        "kind": "ControllerRevision",
        "namespace": m.get("namespace", ""),
        "name": m["name"],
        "preconditions": {"uid": m["uid"]},
    }


def owned_revisions(owner: Obj, revisions: Iterable[Obj], selector: Selector) -> list[Obj]:
    """ListControllerRevisions: in the owner's namespace, selected, and ours or nobody's.

    Orphans are returned as upstream's list returns them; adopting them
    (ClaimControllerRevisions) is the caller's business.
    """
    m = meta(owner)
    out: list[Obj] = []
    for rev in revisions:
        if meta(rev).get("namespace") != m.get("namespace"):
            continue
        if not selector.matches(meta(rev).get("labels") or {}):
            continue
        ref = next((r for r in owner_refs(rev) if r.get("controller") is True), None)
        if ref is None or ref.get("uid") == m.get("uid"):
            out.append(rev)
    return out


def _number(rev: Obj) -> int:
    return int(rev.get("revision") or 0)


def _created(rev: Obj) -> float:
    stamp = meta(rev).get("creationTimestamp")
    return parse_time(stamp) if isinstance(stamp, str) and stamp else float("-inf")


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """SortControllerRevisions: by revision, then creationTimestamp, then name."""
    return sorted(revisions, key=lambda r: (_number(r), _created(r), str(meta(r).get("name"))))


def max_revision(revisions: Iterable[Obj]) -> int:
    """maxRevision: the largest revision number, 0 for none."""
    return max((_number(r) for r in revisions), default=0)


def _parse_int32(text: Any) -> int | None:
    """strconv.ParseInt(s, 10, 32), None where it fails."""
    if not isinstance(text, str):
        return None
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    value = int(text)
    return value if -(2**31) <= value < 2**31 else None


def equal_revision(lhs: Obj, rhs: Obj, *, hash_label: str = HASH_LABEL) -> bool:
    """history.EqualRevision: unequal when both hash labels parse and differ; else equal data."""
    lh = _parse_int32((meta(lhs).get("labels") or {}).get(hash_label))
    rh = _parse_int32((meta(rhs).get("labels") or {}).get(hash_label))
    if lh is not None and rh is not None and (lh & _MASK) != (rh & _MASK):
        return False
    return bool(lhs.get("data") == rhs.get("data"))


def find_equal_revisions(
    revisions: Sequence[Obj], needle: Obj, *, hash_label: str = HASH_LABEL
) -> list[Obj]:
    """history.FindEqualRevisions, in the given order."""
    return [r for r in revisions if equal_revision(r, needle, hash_label=hash_label)]


def truncate(
    revisions: Iterable[Obj],
    limit: int,
    is_live: Callable[[Obj], bool],
    *,
    live_count: bool = False,
) -> list[Obj]:
    """The revisions to delete so that at most `limit` non-live ones remain, oldest first.

    With `live_count` False this is the StatefulSet's truncateHistory: live
    revisions are set aside, then the oldest of the rest beyond the limit
    go. With `live_count` True it is the DaemonSet's cleanupHistory: the
    excess is counted over all old revisions, live ones included, and live
    ones are skipped while deleting, so fewer may go.
    """
    ordered = sort_revisions(revisions)
    if not live_count:
        history = [r for r in ordered if not is_live(r)]
        excess = len(history) - limit
        return history[:excess] if excess > 0 else []
    to_kill = len(ordered) - limit
    out: list[Obj] = []
    for rev in ordered:
        if to_kill <= 0:
            break
        if is_live(rev):
            continue
        out.append(rev)
        to_kill -= 1
    return out
