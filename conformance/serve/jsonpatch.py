"""JSON Patch (RFC 6902), the patch type `kubectl rollout undo` sends.

Operations `add`, `remove`, `replace`, `move`, `copy` and `test` over JSON
Pointers (RFC 6901, `~0` and `~1` escapes, `-` for the end of a list).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["JsonPatchError", "json_patch"]


class JsonPatchError(ValueError):
    """An operation that is malformed or does not apply (a missing path, a failed test)."""


def json_patch(document: Any, operations: Any) -> Any:
    """`document` with `operations` applied in order; the argument is not changed."""
    if not isinstance(operations, list):
        raise JsonPatchError("a JSON patch must be a list of operations")
    result = copy.deepcopy(document)
    for number, operation in enumerate(operations):
        if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
            raise JsonPatchError(f"operation {number} needs an `op` and a string `path`")
        result = _apply(result, operation)
    return result


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise JsonPatchError(f"path {text!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/")]


def _index(container: list[Any], token: str, *, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit():
        raise JsonPatchError(f"{token!r} is not a list index")
    index = int(token)
    if index > len(container) or (index == len(container) and not adding):
        raise JsonPatchError(f"list index {index} is out of range")
    return index


def _parent(document: Any, tokens: list[str]) -> Any:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, adding=False)]
        else:
            raise JsonPatchError(f"path segment {token!r} does not exist")
    return node


def _get(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        return document
    parent = _parent(document, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise JsonPatchError(f"{'/'.join(tokens)} does not exist")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, adding=False)]
    raise JsonPatchError(f"{'/'.join(tokens)} does not exist")


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(document, tokens)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], adding=True), value)
    else:
        raise JsonPatchError(f"cannot add under a {type(parent).__name__}")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise JsonPatchError("cannot remove the whole document")
    _get(document, tokens)
    parent = _parent(document, tokens)
    if isinstance(parent, dict):
        del parent[tokens[-1]]
    else:
        del parent[_index(parent, tokens[-1], adding=False)]
    return document


def _apply(document: Any, operation: dict[str, Any]) -> Any:
    op, tokens = operation.get("op"), _pointer(operation["path"])
    if op in ("add", "replace", "test") and "value" not in operation:
        raise JsonPatchError(f"`{op}` needs a `value`")
    if op == "add":
        return _add(document, tokens, copy.deepcopy(operation["value"]))
    if op == "remove":
        return _remove(document, tokens)
    if op == "replace":
        _get(document, tokens)
        return _add(_remove(document, tokens), tokens, copy.deepcopy(operation["value"]))
    if op == "test":
        if _get(document, tokens) != operation["value"]:
            raise JsonPatchError(f"test failed at {operation['path']}")
        return document
    if op in ("move", "copy"):
        source = operation.get("from")
        if not isinstance(source, str):
            raise JsonPatchError(f"`{op}` needs a string `from`")
        value = copy.deepcopy(_get(document, _pointer(source)))
        if op == "move":
            document = _remove(document, _pointer(source))
        return _add(document, tokens, value)
    raise JsonPatchError(f"unknown operation {op!r}")
