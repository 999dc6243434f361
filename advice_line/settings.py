"""Typed settings, built once at start from the environment and an optional TOML file.

Every setting has an environment variable ``ADVICE_LINE_<NAME>``; a TOML file named by
``ADVICE_LINE_CONFIG_FILE`` may hold the same names in lower case. The environment wins
over the file. A bad value stops the start with a message that names the setting.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from advice_line.push_keys import parse_private_key
from advice_line.retention.policy import DEFAULTS, Period, check_period

ENV_PREFIX = "ADVICE_LINE_"


class SettingsError(ValueError):
    """One or more settings are invalid; the message names each of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know about its surroundings."""

    environment: str = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    redis_key_prefix: str = "al:"
    host: str = "127.0.0.1"
    port: int = 8080
    public_origin: str | None = None
    trust_proxy_headers: bool = False
    cookie_secure: bool = False
    session_idle_minutes: int = 480
    session_max_hours: int = 24
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 30
    login_throttle_window_seconds: int = 900
    max_body_bytes: int = 65536
    ws_heartbeat_seconds: float = 15.0
    ws_resume_grace_seconds: float = 30.0
    ws_max_message_bytes: int = 65536
    migrate_on_start: bool = True
    log_format: str = "console"
    log_level: str = "info"
    #: uvloop (libuv) when it is installed, else asyncio's own loop; "asyncio" forces the latter.
    event_loop: str = "uvloop"
    db_pool_min: int = 2
    db_pool_max: int = 10
    default_language: str = "da"
    ring_seconds: tuple[float, float, float] = (45.0, 90.0, 90.0)
    longest_idle_tiers: tuple[str, ...] = ()
    wake_grace_seconds: float = 60.0
    retry_seconds: float = 30.0
    wrap_up_seconds: float = 300.0
    fallback_text_da: str = (
        "Ingen rådgiver kan tage opkaldet lige nu. Kontakt lægevagten. Opkaldet venter, "
        "og du får besked, så snart en rådgiver er ledig."
    )
    fallback_text_en: str = (
        "No advisor can take the call right now. Contact the out-of-hours GP service. The call "
        "waits, and you will be told as soon as an advisor is free."
    )
    fallback_phone: str = "1813"
    # Outbound notifications: Web Push wake-ups (VAPID) and e-mail alerts to coordinators.
    vapid_private_key: str | None = dataclasses.field(default=None, repr=False)
    vapid_subject: str = "mailto:drift@advice-line.dk"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "Rådgivningslinjen <noreply@advice-line.dk>"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = dataclasses.field(default=None, repr=False)
    alert_email_to: tuple[str, ...] = ()
    # WebRTC: ICE servers handed to every client; TURN credentials in coturn's REST-API scheme.
    stun_urls: tuple[str, ...] = ("stun:127.0.0.1:3478",)
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = dataclasses.field(default=None, repr=False)
    turn_ttl_seconds: int = 3600
    # Evaluation: the secret behind the research extract's pseudonyms (P-/C-/E-xxxxxxxx).
    research_pseudonym_key: str | None = dataclasses.field(default=None, repr=False)
    # The pre-call test: echo peers per node, and how long one runs before it is closed.
    echo_max_peers: int = 20
    echo_lifetime_seconds: float = 60.0
    # Retention (docs/retention.md): how long each kind of record is kept, "10y" or "90d".
    retention_patient_records: Period = DEFAULTS["patient_records"]
    retention_audit: Period = DEFAULTS["audit"]
    retention_sessions: Period = DEFAULTS["sessions"]
    retention_push_subscriptions: Period = DEFAULTS["push_subscriptions"]
    retention_rota_changes: Period = DEFAULTS["rota_changes"]

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests, CLI flags)."""
        return dataclasses.replace(self, **changes)


def _parse_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _int_between(low: int, high: int) -> Callable[[object], int]:
    def parse(raw: object) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"must be a whole number between {low} and {high}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _float_between(low: float, high: float) -> Callable[[object], float]:
    def parse(raw: object) -> float:
        try:
            value = float(str(raw).strip())
        except ValueError:
            raise ValueError(f"must be a number between {low} and {high}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _one_of(*choices: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        value = str(raw).strip().lower()
        if value not in choices:
            raise ValueError("must be one of " + ", ".join(choices))
        return value

    return parse


def _url(*schemes: str) -> Callable[[object], str | None]:
    def parse(raw: object) -> str | None:
        text = str(raw).strip()
        if not text:
            return None
        parts = urlsplit(text)
        if parts.scheme not in schemes:
            raise ValueError(
                "must be a URL starting with " + " or ".join(f"{s}://" for s in schemes)
            )
        if parts.scheme not in {"unix"} and not parts.hostname:
            raise ValueError("must name a host")
        return text

    return parse


def _origin(raw: object) -> str | None:
    text = str(raw).strip().rstrip("/")
    if not text:
        return None
    parts = urlsplit(text)
    extras = parts.path or parts.query or parts.fragment or parts.username or parts.password
    if parts.scheme not in {"http", "https"} or not parts.hostname or extras:
        raise ValueError("must be an origin such as https://advice.example.dk (no path or query)")
    # Browsers send origins in lower case and without the default port: compare like with like.
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _path(raw: object) -> Path:
    text = str(raw).strip()
    if not text:
        raise ValueError("must not be empty")
    return Path(text).expanduser()


def _prefix(raw: object) -> str:
    text = str(raw)
    if not text or len(text) > 32 or any(c.isspace() for c in text):
        raise ValueError("must be 1-32 characters without spaces")
    return text


def _ring_seconds(raw: object) -> tuple[float, float, float]:
    values = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    try:
        parsed = tuple(float(str(v).strip()) for v in values)
    except ValueError:
        raise ValueError("must be three numbers of seconds, e.g. 45,90,90") from None
    if len(parsed) != 3 or not all(0.05 <= v <= 600 for v in parsed):
        raise ValueError("must be three numbers of seconds between 0.05 and 600, e.g. 45,90,90")
    return parsed[0], parsed[1], parsed[2]


def _tiers(raw: object) -> tuple[str, ...]:
    values = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    tiers = tuple(str(v).strip() for v in values if str(v).strip())
    unknown = [t for t in tiers if t not in ("senior_nurse", "gp", "specialist")]
    if unknown:
        raise ValueError(f"unknown tiers {unknown}")
    return tiers


def _text(low: int, high: int) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        text = str(raw).strip()
        if not low <= len(text) <= high:
            raise ValueError(f"must be {low} to {high} characters")
        return text

    return parse


def _language(raw: object) -> str:
    return _one_of("da", "en")(raw)


def _vapid_key(raw: object) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    parse_private_key(text)  # raises ValueError naming what is wrong
    return text


_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def _vapid_subject(raw: object) -> str:
    text = str(raw).strip()
    if text.startswith("mailto:") and _ADDRESS.fullmatch(text[len("mailto:") :]):
        return text
    parts = urlsplit(text)
    if parts.scheme == "https" and parts.hostname and "." in parts.hostname:
        return text
    raise ValueError("must be mailto:someone@example.dk or an https:// URL (RFC 8292)")


def _email_address(raw: object) -> str:
    text = str(raw).strip()
    if not _ADDRESS.fullmatch(text):
        raise ValueError("must be an e-mail address such as vagt@example.dk")
    return text


def _email_addresses(raw: object) -> tuple[str, ...]:
    values = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    return tuple(_email_address(v) for v in values if str(v).strip())


def _mailbox(raw: object) -> str:
    """An address, optionally with a display name: ``Rådgivningslinjen <noreply@example.dk>``."""
    text = str(raw).strip()
    match = re.fullmatch(r"([^<>\r\n\"]*?)\s*<([^<>]+)>", text)
    _email_address(match[2] if match else text)
    return text


def _hostname(raw: object) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,253}", text):
        raise ValueError("must be a host name or address, without scheme or port")
    return text


def _optional_text(raw: object) -> str | None:
    text = str(raw)
    if "\n" in text or "\r" in text:
        raise ValueError("must be on one line")
    return text or None


_HOST_PORT = r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
_ICE_URLS = {
    "stun": (re.compile(rf"stuns?:{_HOST_PORT}"), "stun:stun.example.dk:3478"),
    "turn": (
        re.compile(rf"turns?:{_HOST_PORT}(?:\?transport=(?:udp|tcp))?"),
        "turn:turn.example.dk:3478?transport=udp",
    ),
}


def _ice_urls(kind: str) -> Callable[[object], tuple[str, ...]]:
    """Comma-separated ``stun:``/``turn:`` URLs (RFC 7064/7065), as browsers and aiortc take them."""
    pattern, example = _ICE_URLS[kind]

    def parse(raw: object) -> tuple[str, ...]:
        values = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        urls = tuple(str(v).strip() for v in values if str(v).strip())
        for url in urls:
            if not pattern.fullmatch(url):
                raise ValueError(f"{url[:80]!r} is not a {kind}: URL such as {example}")
        return urls

    return parse


def _turn_secret(raw: object) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    if len(text) < 16 or len(text) > 256 or any(c.isspace() for c in text):
        raise ValueError(
            "must be 16 to 256 characters without spaces (coturn's static-auth-secret)"
        )
    return text


def _research_key(raw: object) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    if len(text) < 32 or len(text) > 256 or any(c.isspace() for c in text):
        raise ValueError("must be 32 to 256 characters without spaces (e.g. openssl rand -hex 32)")
    return text


def _retention(setting: str) -> Callable[[object], Period]:
    """A retention period ("10y", "90d") at or above the setting's legal floor."""

    def parse(raw: object) -> Period:
        return check_period(setting, Period.parse(str(raw)))

    return parse


_PARSERS: dict[str, Callable[[object], Any]] = {
    "environment": _one_of("development", "production", "test"),
    "data_dir": _path,
    "database_url": _url("postgres", "postgresql"),
    "redis_url": _url("redis", "rediss", "unix"),
    "redis_key_prefix": _prefix,
    "host": lambda raw: str(raw).strip() or "127.0.0.1",
    "port": _int_between(0, 65535),
    "public_origin": _origin,
    "trust_proxy_headers": _parse_bool,
    "cookie_secure": _parse_bool,
    "session_idle_minutes": _int_between(1, 7 * 24 * 60),
    "session_max_hours": _int_between(1, 24 * 30),
    "login_max_failures_per_account": _int_between(1, 1000),
    "login_max_failures_per_address": _int_between(1, 100000),
    "login_throttle_window_seconds": _int_between(1, 86400),
    "max_body_bytes": _int_between(1024, 64 * 1024 * 1024),
    "ws_heartbeat_seconds": _float_between(0.05, 300.0),
    "ws_resume_grace_seconds": _float_between(0.1, 600.0),
    "ws_max_message_bytes": _int_between(1024, 4 * 1024 * 1024),
    "migrate_on_start": _parse_bool,
    "log_format": _one_of("console", "json"),
    "log_level": _one_of("debug", "info", "warning", "error"),
    "event_loop": _one_of("uvloop", "asyncio"),
    "db_pool_min": _int_between(1, 100),
    "db_pool_max": _int_between(1, 500),
    "default_language": _language,
    "ring_seconds": _ring_seconds,
    "longest_idle_tiers": _tiers,
    "wake_grace_seconds": _float_between(0.05, 3600.0),
    "retry_seconds": _float_between(0.05, 3600.0),
    "wrap_up_seconds": _float_between(0.05, 86400.0),
    "fallback_text_da": _text(1, 1000),
    "fallback_text_en": _text(1, 1000),
    "fallback_phone": _text(0, 40),
    "vapid_private_key": _vapid_key,
    "vapid_subject": _vapid_subject,
    "smtp_host": _hostname,
    "smtp_port": _int_between(1, 65535),
    "smtp_from": _mailbox,
    "smtp_starttls": _parse_bool,
    "smtp_username": _optional_text,
    "smtp_password": _optional_text,
    "alert_email_to": _email_addresses,
    "stun_urls": _ice_urls("stun"),
    "turn_urls": _ice_urls("turn"),
    "turn_secret": _turn_secret,
    "turn_ttl_seconds": _int_between(60, 7 * 24 * 3600),
    "research_pseudonym_key": _research_key,
    "echo_max_peers": _int_between(1, 1000),
    "echo_lifetime_seconds": _float_between(1.0, 600.0),
    "retention_patient_records": _retention("patient_records"),
    "retention_audit": _retention("audit"),
    "retention_sessions": _retention("sessions"),
    "retention_push_subscriptions": _retention("push_subscriptions"),
    "retention_rota_changes": _retention("rota_changes"),
}

#: Settings whose values never appear in an error message.
_SECRETS = frozenset(
    {"vapid_private_key", "smtp_password", "turn_secret", "research_pseudonym_key"}
)

#: Defaults that differ in production: JSON logs, Secure cookies, explicit migrations.
_PRODUCTION_DEFAULTS = {"log_format": "json", "cookie_secure": True, "migrate_on_start": False}


def env_name(name: str) -> str:
    """The environment variable that sets ``name``."""
    return ENV_PREFIX + name.upper()


def load_settings(
    environ: Mapping[str, str], *, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build and validate settings from an environment mapping (and its config file)."""
    raw: dict[str, object] = {}
    problems: list[str] = []
    config_file = environ.get(env_name("config_file"), "").strip()
    if config_file:
        raw.update(_read_config_file(Path(config_file), problems))
    for name in _PARSERS:
        if env_name(name) in environ:
            raw[name] = environ[env_name(name)]
    raw.update(overrides or {})
    problems.extend(_unknown_variables(environ))

    environment = raw.get("environment", "development")
    values: dict[str, Any] = {}
    if str(environment).strip().lower() == "production":
        values.update(_PRODUCTION_DEFAULTS)
    for name, value in raw.items():
        parser = _PARSERS.get(name)
        if parser is None:
            problems.append(f"{name}: unknown setting (in {config_file or 'overrides'})")
            continue
        try:
            values[name] = parser(value)
        except ValueError as exc:
            shown = "hidden" if name in _SECRETS else repr(str(value)[:80])
            problems.append(f"{env_name(name)}: {exc} (got {shown})")
    if not problems:
        problems.extend(_cross_checks(values))
    if problems:
        raise SettingsError(problems)
    return Settings(**values)


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A misspelt variable would silently leave a default in force; name it instead."""
    problems = []
    for variable in environ:
        if variable.startswith(ENV_PREFIX) and not variable.startswith(ENV_PREFIX + "TEST_"):
            name = variable[len(ENV_PREFIX) :].lower()
            if name not in _PARSERS and name != "config_file":
                problems.append(f"{variable}: unknown setting (misspelt?)")
    return problems


def _read_config_file(path: Path, problems: list[str]) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        problems.append(f"{env_name('config_file')}: file {path} does not exist")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{env_name('config_file')}: {path} is not valid TOML ({exc})")
        return {}
    return {str(key): value for key, value in data.items()}


def _cross_checks(values: Mapping[str, Any]) -> list[str]:
    problems = []
    low = values.get("db_pool_min", Settings.db_pool_min)
    high = values.get("db_pool_max", Settings.db_pool_max)
    if low > high:
        problems.append(
            f"{env_name('db_pool_min')}: must not exceed {env_name('db_pool_max')} ({low} > {high})"
        )
    origin = values.get("public_origin")
    if values.get("environment") == "production" and not origin:
        problems.append(f"{env_name('public_origin')}: required in production")
    if origin and origin.startswith("http://") and values.get("environment") == "production":
        problems.append(f"{env_name('public_origin')}: must be https:// in production")
    if values.get("turn_urls") and not values.get("turn_secret"):
        problems.append(
            f"{env_name('turn_secret')}: required when {env_name('turn_urls')} is set "
            "(clients get TURN credentials made with it)"
        )
    return problems + _email_checks(values)


def _email_checks(values: Mapping[str, Any]) -> list[str]:
    """E-mail alerts need both a server and recipients; a login needs both halves (and TLS)."""
    problems = []
    host, recipients = values.get("smtp_host"), values.get("alert_email_to")
    if host and not recipients:
        problems.append(
            f"{env_name('alert_email_to')}: required when {env_name('smtp_host')} is set"
        )
    if recipients and not host:
        problems.append(
            f"{env_name('smtp_host')}: required when {env_name('alert_email_to')} is set"
        )
    user, password = values.get("smtp_username"), values.get("smtp_password")
    if bool(user) != bool(password):
        missing = "smtp_password" if user else "smtp_username"
        problems.append(f"{env_name(missing)}: required with the other half of the SMTP login")
    production = values.get("environment") == "production"
    if user and production and not values.get("smtp_starttls"):
        problems.append(
            f"{env_name('smtp_starttls')}: must be true in production when an SMTP login is set"
        )
    return problems
