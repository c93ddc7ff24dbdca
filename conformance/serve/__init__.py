"""`kubeprop serve`: the reference cluster behind the Kubernetes REST API, for real clients.

The pieces are small and mostly pure: `paths` reads a URL into a resource
address, `discovery` and `openapi` describe what is served, `rest` turns a
REST request into protocol requests against one cluster value, `strategic`
is the strategic merge patch `kubectl apply` sends, `tables` renders
`kubectl get` columns, `app` is the HTTP side (Starlette on uvicorn)
that holds the cluster behind one lock and moves its clock with the wall
clock.
"""

__all__: list[str] = []
