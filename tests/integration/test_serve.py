"""`kubeprop serve` driven by real clients: the official Python client, kubectl, and raw HTTP.

One server per module, started as a user starts it (a subprocess on port 0
with a kubeconfig written for it), with the clock at 50 simulated seconds
per wall second so that rollouts finish in a fraction of a wall second.
Each test works in a namespace of its own. Waits poll with a hang guard,
never assert on elapsed time.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from served import kubeprop_serve

pytestmark = pytest.mark.integration

#: Wall seconds after which a wait is a failure: a hang guard, not a measurement.
HANG_GUARD = 60.0


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str, kubeconfig: Path) -> None:
        self.process = process
        self.url = url
        self.kubeconfig = kubeconfig

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, Any]:
        headers = {"Content-Type": content_type} if content_type else {}
        req = urllib.request.Request(self.url + path, body, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("serve")
    with kubeprop_serve(directory, "--time-scale", "50", "--seed", "7") as served:
        yield Server(served.process, served.url, served.kubeconfig)


def _until(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + HANG_GUARD
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _deployment(name: str, image: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "ports": [{"containerPort": 80}],
                            "env": [{"name": "MODE", "value": "test"}],
                        }
                    ]
                },
            },
        },
    }


# -- the official Python client -------------------------------------------------------------------


def test_official_python_client(server: Server) -> None:
    # The client's models are loosely typed (most fields Optional): use them as Any here.
    kubernetes: Any = pytest.importorskip("kubernetes")
    pytest.importorskip("kubernetes.watch")
    client, watch = kubernetes.client, kubernetes.watch
    api_exception = kubernetes.client.exceptions.ApiException
    api_client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    ns = "python"
    core.create_namespace({"metadata": {"name": ns}})
    apps.create_namespaced_deployment(ns, _deployment("web", "nginx:1.14", 3))

    def available(replicas: int, image: str) -> bool:
        dep = apps.read_namespaced_deployment("web", ns)
        status = dep.status
        if status is None:
            return False
        return (
            status.observed_generation == dep.metadata.generation
            and status.available_replicas == replicas
            and status.updated_replicas == replicas
            and (status.replicas or 0) == replicas
            and dep.spec.template.spec.containers[0].image == image
        )

    _until("3 available replicas", lambda: available(3, "nginx:1.14"))
    pods = core.list_namespaced_pod(ns, label_selector="app=web").items
    assert len(pods) == 3
    assert {p.spec.node_name for p in pods} <= {"node-1", "node-2", "node-3"}

    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5
    _until("5 available replicas", lambda: available(5, "nginx:1.14"))

    listed = apps.list_namespaced_deployment(ns, field_selector="metadata.name=web")
    since = listed.metadata.resource_version
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.15"}]}}}
    }
    patched = apps.patch_namespaced_deployment("web", ns, patch)
    container = patched.spec.template.spec.containers[0]
    assert container.image == "nginx:1.15"
    assert [(e.name, e.value) for e in container.env] == [("MODE", "test")], "merged by name"
    assert [p.container_port for p in container.ports] == [80]

    seen: list[tuple[str, str]] = []
    stream = watch.Watch().stream(
        apps.list_namespaced_deployment,
        ns,
        field_selector="metadata.name=web",
        resource_version=since,
        timeout_seconds=20,
    )
    for event in stream:
        dep = event["object"]
        seen.append((event["type"], dep.spec.template.spec.containers[0].image))
        if dep.status.updated_replicas == 5 and dep.status.available_replicas == 5:
            break
    assert seen[0] == ("MODIFIED", "nginx:1.15")
    _until("the new image rolled out", lambda: available(5, "nginx:1.15"))
    images = {p.spec.containers[0].image for p in core.list_namespaced_pod(ns).items}
    assert "nginx:1.15" in images

    stale = apps.read_namespaced_deployment("web", ns)
    apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"touched": "yes"}}})
    stale.spec.replicas = 1
    with pytest.raises(api_exception) as conflict:
        apps.replace_namespaced_deployment("web", ns, stale)
    assert conflict.value.status == 409

    apps.delete_namespaced_deployment("web", ns, propagation_policy="Foreground")
    _until("the deployment gone", lambda: not apps.list_namespaced_deployment(ns).items)
    _until("its pods gone", lambda: not core.list_namespaced_pod(ns).items)
    with pytest.raises(api_exception) as missing:
        apps.read_namespaced_deployment("web", ns)
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["reason"] == "NotFound"


def test_lists_of_several_kinds_at_one_revision(server: Server) -> None:
    kubernetes: Any = pytest.importorskip("kubernetes")
    api_exception = kubernetes.client.exceptions.ApiException
    api_client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    core = kubernetes.client.CoreV1Api(api_client)
    ns = "exact"
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"v": "one"}})
    at = core.list_namespaced_config_map(ns).metadata.resource_version
    core.patch_namespaced_config_map("a", ns, {"data": {"v": "two"}})
    core.create_namespaced_secret(ns, {"metadata": {"name": "s"}})

    exact = {"resource_version": at, "resource_version_match": "Exact"}
    then = core.list_namespaced_config_map(ns, **exact)
    assert [(c.metadata.name, c.data["v"]) for c in then.items] == [("a", "one")]
    assert then.metadata.resource_version == at
    assert "s" not in {s.metadata.name for s in core.list_namespaced_secret(ns, **exact).items}
    assert "s" in {s.metadata.name for s in core.list_namespaced_secret(ns).items}

    ahead = {"resource_version": str(int(at) + 10**9), "resource_version_match": "Exact"}
    with pytest.raises(api_exception) as too_large:
        core.list_namespaced_config_map(ns, **ahead)
    assert too_large.value.status == 504
    with pytest.raises(api_exception) as invalid:
        core.list_namespaced_config_map(ns, resource_version_match="Exact")
    assert invalid.value.status == 422


def test_the_date_header_is_the_simulated_clock(server: Server) -> None:
    body = json.dumps({"metadata": {"name": "dated"}}).encode()
    req = urllib.request.Request(
        server.url + "/api/v1/namespaces/default/configmaps",
        body,
        {"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as answer:
        dates = answer.headers.get_all("Date")
        created = json.loads(answer.read())["metadata"]["creationTimestamp"]
    assert dates is not None and len(dates) == 1, dates
    date = email.utils.parsedate_to_datetime(dates[0])
    stamp = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    # The clock runs at 50 simulated seconds per wall second: a day is half an hour of wall time.
    assert stamp <= date <= stamp + dt.timedelta(seconds=50 * HANG_GUARD)
    assert date < dt.datetime(2025, 1, 2, tzinfo=dt.UTC)


def test_the_kubeconfig_tells_the_time_scale(server: Server) -> None:
    config = yaml.safe_load(server.kubeconfig.read_text())
    extensions = config["clusters"][0]["cluster"]["extensions"]
    assert extensions == [{"name": "kubeprop.io/clock", "extension": {"timeScale": 50.0}}]


# -- kubectl ---------------------------------------------------------------------------------------


def _kubectl() -> tuple[str, tuple[int, int]] | None:
    """The kubectl to drive and its version: `$KUBEPROP_KUBECTL` (any version from 1.20, for
    ci/test's fetched 1.20), else the one on PATH when it is 1.27 or newer."""
    given = os.environ.get("KUBEPROP_KUBECTL")
    found = given or shutil.which("kubectl")
    if found is None:
        return None
    try:
        out = subprocess.run(
            [found, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        client = json.loads(out)["clientVersion"]
        minor = re.match(r"\d+", client["minor"])
        version = (int(client["major"]), int(minor.group() if minor else ""))
    except (subprocess.SubprocessError, ValueError, KeyError, OSError):
        return None
    return (found, version) if version >= ((1, 20) if given else (1, 27)) else None


def test_kubectl(server: Server, tmp_path: Path) -> None:
    found = _kubectl()
    if found is None:
        pytest.skip("no kubectl 1.27 or newer on PATH, and KUBEPROP_KUBECTL is not set")
    kubectl, version = found
    # Before 1.27 kubectl validates against a protobuf OpenAPI v2, which is not served.
    validate = [] if version >= (1, 27) else ["--validate=false"]
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "HOME": str(tmp_path)}

    def run(*args: str) -> str:
        done = subprocess.run(
            [kubectl, "--namespace", "kubectl", *args],
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
            env=env,
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def manifest(image: str) -> str:
        path = tmp_path / f"web-{image.replace(':', '-')}.json"
        path.write_text(json.dumps(_deployment("web", image, 3)))
        return str(path)

    namespace = tmp_path / "namespace.json"
    namespace.write_text(
        json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubectl"}})
    )
    run("apply", *validate, "-f", str(namespace))
    assert "created" in run("apply", *validate, "-f", manifest("nginx:1.14"))
    assert "successfully rolled out" in run("rollout", "status", "deployment/web", "--timeout=60s")
    table = run("get", "deployments")
    assert re.search(r"^web\s+3/3\s+3\s+3\s+\S+$", table, re.M), table
    pods = run("get", "pods", "-l", "app=web")
    assert pods.count("Running") == 3, pods

    assert "scaled" in run("scale", "deployment", "web", "--replicas=4")
    run("rollout", "status", "deployment/web", "--timeout=60s")
    assert run("get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}") == "4"

    assert "configured" in run("apply", *validate, "-f", manifest("nginx:1.15"))
    run("rollout", "status", "deployment/web", "--timeout=60s")
    image = "jsonpath={.spec.template.spec.containers[0].image}"
    assert run("get", "deployment", "web", "-o", image) == "nginx:1.15"
    assert run("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}") == "3"

    assert "rolled back" in run("rollout", "undo", "deployment/web")
    run("rollout", "status", "deployment/web", "--timeout=60s")
    assert run("get", "deployment", "web", "-o", image) == "nginx:1.14"

    assert "deleted" in run("delete", "-f", manifest("nginx:1.14"))
    gone = subprocess.run(
        [kubectl, "--namespace", "kubectl", "get", "deployment", "web"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env=env,
    )
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


# -- bad input -------------------------------------------------------------------------------------


CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "code"),
    [
        ("POST", CONFIGMAPS, b'{"metadata": {"name": ', "application/json", 400),
        ("POST", CONFIGMAPS, b'"a string"', "application/json", 400),
        ("POST", CONFIGMAPS, b'{"metadata": {"name": "x"}, "data": [1]}', "application/json", None),
        (
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            json.dumps({**_deployment("bad", "nginx", 1), "spec": {"replicas": "three"}}).encode(),
            "application/json",
            None,
        ),
        ("POST", "/api/v1/namespaces/default/widgets", b"{}", "application/json", 404),
        ("GET", "/apis/nope.example.com/v1/things", None, "", 404),
        ("POST", CONFIGMAPS, b"{" + b" " * (4 * 1024 * 1024) + b"}", "application/json", 413),
        ("PATCH", f"{CONFIGMAPS}/absent", b"{}", "application/merge-patch+json", 404),
        ("PATCH", f"{CONFIGMAPS}/absent", b"{}", "application/xml", 415),
    ],
)
def test_bad_input_is_a_4xx_status_and_changes_nothing(
    server: Server, method: str, path: str, body: bytes | None, content_type: str, code: int | None
) -> None:
    _, before = server.request("GET", "/api/v1/namespaces/default/configmaps")
    got, answer = server.request(method, path, body, content_type)
    assert 400 <= got < 500 if code is None else got == code, answer
    assert answer["kind"] == "Status" and answer["code"] == got
    _, after = server.request("GET", "/api/v1/namespaces/default/configmaps")
    assert after["items"] == before["items"]
    status, version = server.request("GET", "/version")
    assert (status, version["gitVersion"]) == (200, "v1.34.0")
    assert server.process.poll() is None


def test_discovery_and_openapi(server: Server) -> None:
    status, apis = server.request("GET", "/apis")
    assert status == 200
    assert "apps" in {g["name"] for g in apis["groups"]}
    status, core = server.request("GET", "/api/v1")
    assert {"pods", "pods/status", "nodes", "namespaces"} <= {r["name"] for r in core["resources"]}
    status, index = server.request("GET", "/openapi/v3")
    assert status == 200 and "apis/apps/v1" in index["paths"]
    assert server.request("GET", "/openapi/v2")[0] == 404
    status, nodes = server.request("GET", "/api/v1/nodes")
    assert sorted(n["metadata"]["name"] for n in nodes["items"]) == ["node-1", "node-2", "node-3"]
