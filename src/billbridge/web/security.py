"""Who may use the web admin: the password, sessions, CSRF tokens and the login throttle.

There is one user, the administrator, with the password `web.admin_password`. A successful
login creates a server-side session (in this process's memory) whose random id travels in a
signed cookie: HttpOnly, SameSite=Lax, and Secure when the admin is reached over https. Logging
out deletes the session, so a copied cookie is worthless afterwards; a restart of `serve` ends
every session.

Every form that changes something carries the session's CSRF token in a hidden `csrf_token`
field. The login form, which has no session yet, carries a token that must match a signed
cookie set with the form (double submit), so another site cannot log a browser in either.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from itsdangerous import BadSignature, Signer, TimestampSigner

SESSION_COOKIE = "billbridge_session"
LOGIN_COOKIE = "billbridge_login"
CSRF_FIELD = "csrf_token"

Clock = Callable[[], float]


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison that does not reveal the length of the password either."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8")).digest(),
        hashlib.sha256(expected.encode("utf-8")).digest(),
    )


def tokens_match(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(
        given.encode("utf-8"), expected.encode("utf-8")
    )


@dataclass(slots=True)
class Session:
    id: str
    csrf_token: str
    created_at: float
    last_seen: float
    flashes: list[tuple[str, str]] = field(default_factory=list)
    """Messages for the next page shown: (kind, text), kind `ok`, `warn` or `error`."""

    def flash(self, kind: str, text: str) -> None:
        self.flashes.append((kind, text))

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        return taken


class SessionStore:
    """The sessions of this process, ended after `idle_s` without use or `max_age_s` in all."""

    def __init__(
        self,
        secret: bytes,
        *,
        idle_s: float = 8 * 3600,
        max_age_s: float = 24 * 3600,
        clock: Clock = time.time,
    ) -> None:
        self._signer = Signer(secret, salt="billbridge-session")
        self._login_signer = TimestampSigner(secret, salt="billbridge-login")
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self._clock = clock

    def create(self) -> tuple[Session, str]:
        """A new session and the cookie value that names it."""
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._prune(now)
            self._sessions[session.id] = session
        return session, self._signer.sign(session.id).decode("ascii")

    def get(self, cookie: str | None) -> Session | None:
        """The live session a cookie names, or None (no cookie, forged, ended or expired)."""
        if not cookie:
            return None
        try:
            session_id = self._signer.unsign(cookie).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_s or now - session.created_at > self.max_age_s:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def end(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self, now: float) -> None:
        expired = [
            key
            for key, s in self._sessions.items()
            if now - s.last_seen > self.idle_s or now - s.created_at > self.max_age_s
        ]
        for key in expired:
            del self._sessions[key]

    # -- the login form's token (no session yet) ----------------------------------------------

    def login_token(self) -> tuple[str, str]:
        """A token for the login form and the signed cookie value it must match."""
        token = secrets.token_urlsafe(32)
        return token, self._login_signer.sign(token).decode("ascii")

    def login_token_valid(self, cookie: str | None, given: object, *, max_age_s: int) -> bool:
        if not cookie:
            return False
        try:
            expected = self._login_signer.unsign(cookie, max_age=max_age_s).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return False
        return tokens_match(given, expected)


def client_key(address: str) -> str:
    """Whom the throttle counts: an IPv4 address, or an IPv6 client's /64 network (one host
    is commonly given a whole /64, and could otherwise rotate addresses within it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


class LoginThrottle:
    """Slows down wrong passwords, and refuses a client that guessed wrong too often.

    Counted per client (`client_key`): after `max_failures` wrong passwords within `window_s`
    that client is refused until the oldest of them ages out. Nobody else is: there is no
    lock-out for everyone, which would let anyone lock the owner out. Guessing from many
    addresses at once (`alert_failures` wrong passwords from all clients within the window)
    puts the throttle on alert instead: while it lasts, each client is refused after
    `alert_max_failures` wrong passwords, and every wrong password waits `max_delay_s`. A
    client without wrong passwords, the owner at their desk, can always log in.
    """

    def __init__(
        self,
        *,
        max_failures: int = 10,
        alert_failures: int = 50,
        alert_max_failures: int = 3,
        window_s: float = 900.0,
        base_delay_s: float = 0.25,
        max_delay_s: float = 3.0,
        max_clients: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.alert_failures = alert_failures
        self.alert_max_failures = min(alert_max_failures, max_failures)
        self.window_s = window_s
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_clients = max_clients
        self._clock = clock
        # Oldest failing client first, so that the memory kept is bounded however many
        # addresses an attacker rotates through.
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque(maxlen=alert_failures)
        self._lock = threading.Lock()

    def on_alert(self) -> bool:
        with self._lock:
            self._expire(self._clock())
            return self._alert()

    def retry_after(self, client: str) -> int:
        """Seconds until this client may try again; 0 when it may try now."""
        now = self._clock()
        key = client_key(client)
        with self._lock:
            self._expire(now)
            times = self._recent(key, now)
            limit = self.alert_max_failures if self._alert() else self.max_failures
            if len(times) < limit:
                return 0
            wait = times[-limit] + self.window_s - now
        return int(wait) + 1

    def failed(self, client: str) -> float:
        """Record a wrong password; returns how long to delay the answer."""
        now = self._clock()
        key = client_key(client)
        with self._lock:
            self._expire(now)
            times = self._recent(key, now)
            self._failures.pop(key, None)
            times.append(now)
            self._failures[key] = times
            while len(self._failures) > self.max_clients:
                del self._failures[next(iter(self._failures))]
            self._all.append(now)
            count = len(times)
            alert = self._alert()
        delay: float = self.base_delay_s * 2.0 ** (count - 1)
        return self.max_delay_s if alert else min(delay, self.max_delay_s)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client_key(client), None)

    def _alert(self) -> bool:
        return len(self._all) >= self.alert_failures

    def _expire(self, now: float) -> None:
        """Forget failures older than the window: clients are ordered by their last failure,
        so only the front is looked at; a client's own old failures go in `_recent`."""
        horizon = now - self.window_s
        while self._all and self._all[0] < horizon:
            self._all.popleft()
        while self._failures:
            oldest = next(iter(self._failures))
            if self._failures[oldest][-1] >= horizon:
                break
            del self._failures[oldest]

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key) or deque(maxlen=self.max_failures)
        horizon = now - self.window_s
        while times and times[0] < horizon:
            times.popleft()
        return times
