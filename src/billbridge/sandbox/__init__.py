"""The Autotask-compatible sandbox tenant: a product feature, not a test double.

It serves Autotask's REST API for the demo, the tests and a new user's first
hour. Imports nothing of billbridge but itself. See `docs/sandbox.md`.
"""

from __future__ import annotations

from billbridge.sandbox.app import SandboxRuntime, create_app
from billbridge.sandbox.faults import FaultSpec
from billbridge.sandbox.options import SandboxOptions
from billbridge.sandbox.seed import INTEGRATION_CODE, SECRET, USERNAME
from billbridge.sandbox.server import RunningSandbox, approve_and_post, start_in_background
from billbridge.sandbox.store import StoreError

__all__ = [
    "INTEGRATION_CODE",
    "SECRET",
    "USERNAME",
    "FaultSpec",
    "RunningSandbox",
    "SandboxOptions",
    "SandboxRuntime",
    "StoreError",
    "approve_and_post",
    "create_app",
    "start_in_background",
]
