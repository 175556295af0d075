"""The gRPC planning service ``scaleplan.v1.PlannerService`` (docs/architecture.md).

Modules: ``app`` (server assembly, TLS, signals, drain), ``service`` (one handler per RPC),
``errors`` (the table from :mod:`scaleplan.errors` to status codes), ``interceptors`` (access log,
metrics, bearer token), ``metrics`` (Prometheus text on an optional HTTP port), ``pool`` (the
worker threads core calls run in, off the event loop), ``cli`` (``scaleplan serve``). Nothing
here is imported by ``import scaleplan``.
"""
