"""The one exception the client raises for a failed call."""

from __future__ import annotations

import grpc


class ErnError(Exception):
    """A call the server refused or that could not be made.

    ``code`` is the gRPC status code (``grpc.StatusCode.NOT_FOUND``, ...) and ``message`` the
    server's explanation, which names the bad field and its allowed range.
    """

    def __init__(self, code: grpc.StatusCode, message: str, call: str = ""):
        self.code = code
        self.message = message
        self.call = call
        prefix = f"{call}: " if call else ""
        super().__init__(f"{prefix}{code.name}: {message}")

    @classmethod
    def from_rpc(cls, error: grpc.RpcError, call: str) -> "ErnError":
        return cls(error.code(), error.details() or "", call)
