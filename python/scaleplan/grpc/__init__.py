"""The gRPC surface of scaleplan: ``server`` (the asyncio service), ``client`` (:class:`Client`)
and ``conversions`` (messages to and from the façade's values). See docs/architecture.md.

Importing this package imports grpc (about 0.1 s); ``import scaleplan`` does not.
"""

from scaleplan.grpc.client import Client, IncompleteStreamError, SweepChunk

__all__ = ["Client", "IncompleteStreamError", "SweepChunk"]
