"""The web admin of `billbridge serve`: server-rendered pages around the export engine.

`create_web_app` builds the ASGI application; `server.serve` runs it with the daily check.
See `docs/web-admin.md`.
"""

from billbridge.web.app import create_web_app

__all__ = ["create_web_app"]
