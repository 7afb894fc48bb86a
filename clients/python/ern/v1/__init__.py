"""The generated gRPC stubs of proto/ern/v1 (``*_pb2.py``, ``*_pb2_grpc.py``), made at build time."""
