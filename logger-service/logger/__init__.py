"""The lab's logger service: stores log events in MongoDB, written over HTTP, xmlrpc and gRPC."""

from logger.app import create_app

__all__ = ["create_app"]
