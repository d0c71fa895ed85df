"""The kiosk's config file (TOML), validated with pydantic once, at start.

Layout (every section and key is optional except ``wallet.home`` and ``payments.currency``;
see ``examples/kiosk/kiosk.toml``)::

    [wallet]   home
    [radio]    adapter, min_rssi, margin_db, listen, tag_listen, scan_timeout, max_att_mtu,
               connect_timeout
    [payments] currency, invoice_ttl, attempts, queue_size, max_amount, payer_wait
    [offline_limits] max_list_age, and per currency a table of per_payment, per_payer_day,
               stale_list as decimal text (p2ppay/wallet/limits.py; defaults: SPEC 7.1)
    [ledger]   url, sync_interval
    [api]      listen ("unix:/path" or "127.0.0.1:PORT", "[::1]:PORT", "localhost:PORT"),
               token_file
    [daemon]   shutdown_grace, backoff_initial, backoff_max, health_interval, log_level

Invariants:
- An unknown key is an error (a typo never silently falls back to a default).
- Every bad field is reported, each on its own line as ``section.key: reason (got value)``,
  in one :class:`~p2ppay.errors.AppError` with code ``KIOSK_CONFIG_INVALID``; nothing
  starts with a config that did not validate.
- The API only ever binds loopback or a Unix socket: the point of sale is on the same box,
  and nothing on the network may create invoices. On TCP a token is required
  (:mod:`p2ppay.kiosk.guard`), since every web page in a local browser can reach loopback.
- Values are frozen after loading; the daemon gets one :class:`KioskConfig` and never
  re-reads the file.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError, field_validator

from p2ppay.errors import AppError, AppErrorCode
from p2ppay.wallet.limits import parse_limits
from protocol import ProtocolError
from protocol.money import check_currency
from protocol.risk import RiskPolicy

__all__ = [
    "ApiConfig",
    "DaemonConfig",
    "KioskConfig",
    "LedgerConfig",
    "PaymentsConfig",
    "RadioConfig",
    "WalletConfig",
    "load_config",
    "parse_config",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)

Seconds = Annotated[float, Field(gt=0, le=86_400)]


class WalletConfig(BaseModel):
    """The payee wallet the kiosk collects into."""

    model_config = _FROZEN
    home: Path
    """Wallet home (made with ``p2ppay --home DIR init --no-passphrase``, or encrypted with
    ``P2PPAY_PASSPHRASE`` in the environment)."""


class RadioConfig(BaseModel):
    """The BLE adapter and how the payer is chosen."""

    model_config = _FROZEN
    adapter: str = "virtual"
    """``virtual``, ``bumble:<transport>``, ``os`` or ``hciN``: one payment at a time on it."""
    min_rssi: int = Field(default=-70, ge=-127, le=0)
    """Proximity gate (dBm): payers weaker than this are ignored."""
    margin_db: int = Field(default=6, ge=-1, le=60)
    """Without a tag, refuse (PAYER_AMBIGUOUS) when the runner-up is within this many dB."""
    listen: Seconds = 1.0
    """At most this many seconds comparing signals after the first payer (no tag given); it
    ends early once the strongest is clear by ``margin_db``."""
    tag_listen: float = Field(default=0.0, ge=0, le=5)
    """With a tag: seconds to listen for a second radio advertising the same tag, refused as
    PAYER_AMBIGUOUS. 0 (the default) takes the first payer heard with the tag, which costs
    nothing; about 0.05 s (two advertising intervals) catches a copied tag at that cost per
    payment. The tag is always bound into the handshake either way."""
    scan_timeout: Seconds = 30.0
    """Seconds to wait for a payer before NO_PAYER_FOUND."""
    max_att_mtu: int = Field(default=517, ge=23, le=517)
    """Largest ATT MTU to ask for."""
    connect_timeout: Seconds = 10.0
    """Seconds for the whole connection set-up."""

    @field_validator("adapter")
    @classmethod
    def _known_adapter(cls, value: str) -> str:
        if value in {"virtual", "os"} or value.startswith("hci"):
            return value
        if value.startswith("bumble:") and value != "bumble:":
            return value
        raise ValueError("must be virtual, os, hciN or bumble:<transport>")


class PaymentsConfig(BaseModel):
    """What the kiosk asks for and how requests queue."""

    model_config = _FROZEN
    currency: str
    """ISO 4217 code every invoice is in (an API request may omit it or must repeat it)."""
    invoice_ttl: int = Field(default=300, ge=10, le=86_400)
    """Seconds an invoice stays valid; a request still queued after that fails."""
    attempts: int = Field(default=2, ge=1, le=10)
    """Sessions tried per invoice when the link drops (always with the same payer)."""
    queue_size: int = Field(default=8, ge=1, le=1000)
    """Requests that may wait behind the one in progress; more are refused (503)."""
    max_amount: int | None = Field(default=None, gt=0)
    """Largest amount (minor units) the API accepts; None: the protocol's limit."""
    payer_wait: float = Field(default=60.0, ge=5, le=600)
    """Seconds from the invoice to the payer's payment (its approval included): a payer who
    walks away at its prompt holds the kiosk at most this long."""

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        try:
            check_currency(value)
        except ProtocolError as exc:
            raise ValueError(f"not a supported ISO 4217 currency ({exc.code.name})") from exc
        return value


class LedgerConfig(BaseModel):
    """Where to sync, and how often."""

    model_config = _FROZEN
    url: AnyHttpUrl | None = None
    """The ledger's base URL; None: never sync (the outbox grows, visible in /metrics)."""
    sync_interval: Seconds = 60.0
    """Seconds between background syncs (sooner after a payment, never more often)."""


class ApiConfig(BaseModel):
    """Where the point-of-sale API listens."""

    model_config = _FROZEN
    listen: str = "unix:/run/p2ppay-kiosk/api.sock"
    """``unix:/path/to/socket`` (the default: its permissions are the authentication), or
    ``HOST:PORT`` on a loopback address (then a bearer token is required, and requests must
    name exactly this ``HOST:PORT`` in their ``Host`` header)."""
    token_file: Path | None = None
    """File whose first line is the API's bearer token (mode 0600); else the token comes
    from ``P2PPAY_KIOSK_TOKEN``. Required (one or the other) when ``listen`` is TCP."""

    @field_validator("listen")
    @classmethod
    def _loopback_or_unix(cls, value: str) -> str:
        if value.startswith("unix:"):
            if len(value) == len("unix:") or not value[len("unix:") :].startswith("/"):
                raise ValueError("unix: needs an absolute socket path")
            return value
        host, port = _split_host_port(value)
        if host != "localhost":
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ValueError("must be a loopback address (127.0.0.1, ::1, localhost) or unix:")
        if not 1 <= port <= 65_535:
            raise ValueError("port must be 1..65535")
        return value

    @property
    def unix_path(self) -> str | None:
        """The socket path for ``unix:``, else None."""
        return self.listen[len("unix:") :] if self.listen.startswith("unix:") else None

    @property
    def host_port(self) -> tuple[str, int]:
        """Host and port for a TCP listener (only when :attr:`unix_path` is None)."""
        return _split_host_port(self.listen)


class DaemonConfig(BaseModel):
    """How the daemon behaves around failures and shutdown."""

    model_config = _FROZEN
    shutdown_grace: Seconds = 20.0
    """On SIGTERM, seconds the payment in flight may take to finish before it is failed."""
    backoff_initial: Seconds = 0.5
    """First wait (seconds) before reopening a lost adapter; doubles up to ``backoff_max``."""
    backoff_max: Seconds = 30.0
    """Longest wait between two attempts to reopen the adapter."""
    health_interval: Seconds = 5.0
    """Seconds between adapter checks while idle (a lost adapter is found before a customer)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level of the JSON log lines on stderr."""


class KioskConfig(BaseModel):
    """The whole kiosk config."""

    model_config = _FROZEN
    wallet: WalletConfig
    radio: RadioConfig = RadioConfig()
    payments: PaymentsConfig
    ledger: LedgerConfig = LedgerConfig()
    api: ApiConfig = ApiConfig()
    daemon: DaemonConfig = DaemonConfig()
    offline_limits: dict[str, Any] | None = None
    """The payee's offline risk limits (same shape as the wallet config's); None: defaults."""

    @field_validator("offline_limits")
    @classmethod
    def _limits(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        try:
            parse_limits(value)
        except AppError as exc:
            raise ValueError(exc.message) from None
        return value

    def risk_policy(self) -> RiskPolicy:
        """The offline risk limits the kiosk enforces."""
        return parse_limits(self.offline_limits)


def _split_host_port(value: str) -> tuple[str, int]:
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
    else:
        host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("must be HOST:PORT ([::1]:PORT for IPv6) or unix:/path")
    return host, int(port)


def parse_config(data: dict[str, Any], *, source: str = "config") -> KioskConfig:
    """Validate parsed TOML; KIOSK_CONFIG_INVALID naming every bad field."""
    try:
        config = KioskConfig.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors()]
        raise AppError(
            AppErrorCode.KIOSK_CONFIG_INVALID, f"{source}: " + "; ".join(lines)
        ) from None
    return config


def load_config(path: Path) -> KioskConfig:
    """Read and validate the TOML file at ``path`` (relative wallet homes are taken relative
    to the file's directory, so an example directory works from anywhere)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AppError(AppErrorCode.KIOSK_CONFIG_INVALID, f"{path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AppError(AppErrorCode.KIOSK_CONFIG_INVALID, f"{path}: not TOML: {exc}") from exc
    config = parse_config(data, source=str(path))
    home = config.wallet.home.expanduser()
    if not home.is_absolute():
        home = (path.parent / home).absolute()
    return config.model_copy(update={"wallet": WalletConfig(home=home)})


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    if error["type"] == "missing":
        return f"{where}: required"
    return f"{where}: {message} (got {error.get('input')!r})"
