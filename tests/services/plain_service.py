"""A Nameko service with no instrumentation code at all, for the launcher's tests."""

import os

from nameko.rpc import rpc


class Plain:
    name = os.environ["SERVICE_NAME"]

    @rpc
    def echo(self, value):
        return value
