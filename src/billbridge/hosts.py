"""What a URL's host may look like, for the checks and the redaction of URLs that may hold a
secret typed in the wrong place."""

from __future__ import annotations

import re

HOST_NAME = re.compile(r"[\w-]+(\.[\w-]+)*\.?")
"""A DNS name (an international one too) or an IPv4 address."""
IPV6_ADDRESS = re.compile(r"[0-9A-Fa-f:.]+(%[\w.-]+)?")
"""An IPv6 address as written between a URL's brackets, with its zone if any: loose on
purpose (the URL parser checks the address), so that a password never passes for one."""
