"""The HTTP side: a Starlette app over one cluster value, its clock driven by the wall clock.

All access to the cluster goes through `Served.transact`, under one lock:
`step` is pure and returns a new value, so a request is a function from the
current value to a reply and the next value, and the lock makes those
functions apply one at a time. The work runs in a worker thread so that
open watch streams keep flowing while a long `advance` computes.

Every response's `Date` header is the simulated clock (clients read a
server's clock from it), and the committed values of the last revisions are
kept (`History`) so that a list can be read at an exact resourceVersion.

No request can kill the server: a malformed request is a 4xx Status, and an
exception in a handler is a 500 Status (the cluster keeps its old value,
since the failed request's value is dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import json
import logging
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.serve import discovery, openapi
from conformance.serve.history import History
from conformance.serve.paths import NotServed, ResourcePath, parse_resource_path
from conformance.serve.rest import (
    Refused,
    Reply,
    RestRequest,
    Transaction,
    handle,
    list_request,
    not_found,
    status,
)
from conformance.serve.tables import table
from conformance.serve.watch import WatchFilter, watch_filter, watch_request
from reference.cluster import Cluster, step
from reference.timefmt import EPOCH

__all__ = ["MAX_BODY_BYTES", "Served", "http_date", "make_app"]

#: The API server's limit on a request body (apiserver's MaxRequestBodyBytes): 3 MiB.
MAX_BODY_BYTES = 3 * 1024 * 1024
#: How much of an oversized body is read and dropped before the connection is cut.
DRAIN_BYTES = 4 * MAX_BODY_BYTES
#: Wall seconds between clock ticks and between polls of a watch.
TICK = 0.05
#: Wall seconds after which a watch ends unless the client asks for less (upstream: 30-60 min).
MAX_WATCH_SECONDS = 1800

log = logging.getLogger("kubeprop.serve")
T = TypeVar("T")


class Served:
    """The served cluster: its current value, the lock, and the wall-clock drive."""

    def __init__(self, cluster: Cluster, time_scale: float) -> None:
        self.cluster = cluster
        self.history = History(cluster)
        self.time_scale = time_scale
        self.lock = threading.Lock()
        self._started: float | None = None
        self._simulated = 0.0

    def transact(self, work: Callable[[Transaction], T], *, commit: bool = True) -> T:
        """Run `work` on a transaction over the current value; keep the result if `commit`."""
        with self.lock:
            tx = Transaction(self.cluster, self.history)
            result = work(tx)
            if commit:
                self._commit(tx.cluster)
            return result

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        """One protocol request, its answer whatever it is (for set-up and the clock)."""
        with self.lock:
            cluster, answer = step(self.cluster, request)
            self._commit(cluster)
            return answer

    def _commit(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.history.record(cluster)

    def tick(self) -> None:
        """Advance the simulated clock to `time_scale` times the wall time since the first tick."""
        now = time.monotonic()
        if self._started is None:
            self._started = now
            return
        due = (now - self._started) * self.time_scale - self._simulated
        if due <= 0:
            return
        answer = self.send({"op": "advance", "seconds": round(due, 6)})
        if not answer.get("ok"):
            log.error("advance refused: %s", answer)
        self._simulated += round(due, 6)


def make_app(served: Served) -> Starlette:
    async def clock() -> None:
        while True:
            try:
                await anyio.to_thread.run_sync(served.tick)
            except Exception:
                log.error("the clock tick failed:\n%s", traceback.format_exc())
            await asyncio.sleep(TICK)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(clock()) if served.time_scale > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()

    async def endpoint(request: Request) -> Response:
        try:
            return await _route(served, request)
        except Exception:
            log.error(
                "request %s %s failed:\n%s", request.method, request.url, traceback.format_exc()
            )
            return _json(500, status(500, "internal error in kubeprop serve; see its log"))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(
        routes=[Route("/{path:path}", endpoint, methods=methods)],
        middleware=[Middleware(SimulatedDate, served=served)],
        lifespan=lifespan,
    )


def http_date(seconds: float) -> str:
    """An RFC 7231 HTTP-date for a simulated instant (whole seconds, as HTTP-dates are)."""
    return email.utils.format_datetime(EPOCH + dt.timedelta(seconds=seconds), usegmt=True)


class SimulatedDate:
    """Sets every response's `Date` to the served cluster's clock, in place of the wall clock
    (uvicorn's own header is turned off): a client that reads the server's clock from `Date`
    then sees the clock the cluster's timestamps are written in."""

    def __init__(self, app: ASGIApp, served: Served) -> None:
        self.app = app
        self.served = served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", http_date(self.served.cluster.now).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, dated)


def _json(code: int, body: Any) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=code,
        media_type="application/json",
    )


async def _route(served: Served, request: Request) -> Response:
    path = request.url.path.rstrip("/") or "/"
    if request.method == "GET":
        static = _static(path)
        if static is not None:
            return static
    try:
        resource = parse_resource_path(path)
    except NotServed:
        reply = not_found()
        return _json(reply.code, reply.body)
    query = dict(request.query_params)
    accept = request.headers.get("accept", "")
    wants_table = "as=Table" in accept
    if request.method == "GET" and resource.name is None and query.get("watch") in ("true", "1"):
        return await _watch(served, resource, query, wants_table)
    body = await _body(request)
    if isinstance(body, Response):
        return body
    rest = RestRequest(
        method=request.method,
        path=resource,
        query=query,
        body=body,
        content_type=request.headers.get("content-type", ""),
        table=wants_table,
    )
    reply = await anyio.to_thread.run_sync(_answer, served, rest)
    return _json(reply.code, reply.body)


def _answer(served: Served, rest: RestRequest) -> Reply:
    """A refused write is kept too (a refusal may follow a write, as upstream's may); only a dry
    run, or a handler that raised, leaves the cluster as it was."""
    return served.transact(lambda tx: handle(tx, rest), commit=not rest.dry_run)


async def _body(request: Request) -> bytes | Response:
    """The body, refused with 413 past MAX_BODY_BYTES.

    An oversized body is still read (and dropped) up to DRAIN_BYTES, so that a
    client that writes its whole body before reading the answer gets the 413
    rather than a reset connection; past that the connection is cut short.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_BYTES:
        return _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_BYTES:
            return _too_large()
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
    if size > MAX_BODY_BYTES:
        return _too_large()
    return b"".join(chunks)


def _too_large() -> Response:
    return _json(413, status(413, f"Request entity too large: limit is {MAX_BODY_BYTES}"))


def _static(path: str) -> Response | None:
    """Discovery, version, health and OpenAPI documents; None when the path is a resource."""
    parts = [p for p in path.split("/") if p]
    if path == "/version":
        return _json(200, discovery.version_info())
    if path == "/api":
        return _json(200, discovery.api_versions())
    if path == "/apis":
        return _json(200, discovery.api_group_list())
    if path == "/api/v1":
        return _found(discovery.api_resource_list("", "v1"))
    if len(parts) == 3 and parts[0] == "apis":
        return _found(discovery.api_resource_list(parts[1], parts[2]))
    if len(parts) == 2 and parts[0] == "apis":
        group = next(
            (g for g in discovery.api_group_list()["groups"] if g["name"] == parts[1]), None
        )
        return _found(None if group is None else {"kind": "APIGroup", "apiVersion": "v1", **group})
    if path in ("/healthz", "/livez", "/readyz"):
        return Response("ok", media_type="text/plain")
    if path == "/openapi/v3":
        return _json(200, openapi.index())
    if parts[:2] == ["openapi", "v3"]:
        rest = parts[2:]
        if rest[:2] == ["api", "v1"] and len(rest) == 2:
            return _found(openapi.group_version_document("", "v1"))
        if len(rest) == 3 and rest[0] == "apis":
            return _found(openapi.group_version_document(rest[1], rest[2]))
        return _found(None)
    if parts[:1] == ["openapi"] or path in ("/swagger-2.0.0.pb-v1", "/swagger.json"):
        return _found(None)
    return None


def _found(body: dict[str, Any] | None) -> Response:
    if body is None:
        reply = not_found()
        return _json(reply.code, reply.body)
    return _json(200, body)


async def _watch(
    served: Served, resource: ResourcePath, query: dict[str, str], wants_table: bool
) -> Response:
    """A chunked stream of watch events. Refusals before the first event (a bad selector)
    are plain Status replies; an expired resourceVersion is an ERROR event carrying a 410
    Status, as upstream sends it."""

    def start(tx: Transaction) -> tuple[list[dict[str, Any]], str]:
        listed = tx.send(list_request(resource, query))
        since = query.get("resourceVersion") or "0"
        if since == "0":
            return [{"type": "ADDED", "object": o} for o in listed["items"]], listed[
                "resourceVersion"
            ]
        return [], since

    try:
        initial, since = await anyio.to_thread.run_sync(
            lambda: served.transact(start, commit=False)
        )
        chosen = watch_filter(query)
    except Refused as e:
        return _json(e.reply.code, e.reply.body)
    timeout = min(_seconds(query.get("timeoutSeconds")), MAX_WATCH_SECONDS)
    stream = _events(served, resource, chosen, initial, since, timeout, wants_table)
    return StreamingResponse(stream, media_type="application/json")


def _seconds(text: str | None) -> float:
    try:
        return float(text) if text else MAX_WATCH_SECONDS
    except ValueError:
        return MAX_WATCH_SECONDS


async def _events(
    served: Served,
    resource: ResourcePath,
    chosen: WatchFilter,
    initial: list[dict[str, Any]],
    since: str,
    timeout: float,
    wants_table: bool,
) -> AsyncIterator[bytes]:
    def line(event: dict[str, Any], now: float) -> bytes:
        if wants_table and event["type"] != "ERROR":
            obj = event["object"]
            event = {
                "type": event["type"],
                "object": table(resource.kind.name, [obj], now, obj["metadata"]["resourceVersion"]),
            }
        return json.dumps(event, separators=(",", ":")).encode() + b"\n"

    def poll(tx: Transaction) -> tuple[list[dict[str, Any]], str, float]:
        answer = tx.send(watch_request(resource, since))
        return answer["events"], answer["resourceVersion"], tx.cluster.now

    now = served.cluster.now
    for event in initial:
        if chosen.matches(event["object"]):
            yield line(event, now)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            events, since, now = await anyio.to_thread.run_sync(
                lambda: served.transact(poll, commit=False)
            )
        except Refused as e:
            yield line({"type": "ERROR", "object": e.reply.body}, now)
            return
        for event in events:
            if chosen.matches(event["object"]):
                yield line(event, now)
        await asyncio.sleep(TICK)
