"""What the Microsoft client needs to know, independent of billbridge's settings file."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass(frozen=True)
class MicrosoftSettings:
    tenant_id: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com"
    api_url: str = "https://api.partnercenter.microsoft.com"
    api_scope: str = "https://api.partnercenter.microsoft.com/.default"
    poll_deadline_s: float = 3600.0
    """How long one export operation is polled before `OperationTimeoutError`."""
    throttle_wait_s: float = 300.0
    """How long 429s are waited out, in total per request, before `ThrottledError`."""
    timeout_s: float = 60.0
    """Of one HTTP request (a blob streams for as long as it keeps sending)."""

    @property
    def token_url(self) -> str:
        return f"{self.authority_url}/{self.tenant_id}/oauth2/v2.0/token"
