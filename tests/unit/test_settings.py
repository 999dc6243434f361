"""advice_line.settings: defaults, parsing from the environment and a TOML file, and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from advice_line.settings import Settings, SettingsError, env_name, load_settings


def env(**values: str) -> dict[str, str]:
    """An environment mapping from setting names: ``env(port="1")``."""
    return {env_name(name): value for name, value in values.items()}


def test_env_name_is_prefixed_upper_case() -> None:
    assert env_name("session_idle_minutes") == "ADVICE_LINE_SESSION_IDLE_MINUTES"


def test_defaults_from_an_empty_environment() -> None:
    settings = load_settings({})

    assert settings == Settings()
    assert settings.environment == "development"
    assert not settings.production
    assert settings.data_dir == Path("var")
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.public_origin is None
    assert settings.cookie_secure is False
    assert settings.migrate_on_start is True
    assert settings.log_format == "console"
    assert settings.log_level == "info"
    assert settings.default_language == "da"


def test_unrelated_environment_variables_are_ignored() -> None:
    assert load_settings({"PATH": "/usr/bin", "HOME": "/root"}) == Settings()


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("environment", "test", "test"),
        ("environment", " Development ", "development"),
        ("data_dir", "/srv/advice", Path("/srv/advice")),
        ("data_dir", "~/advice", Path("~/advice").expanduser()),
        ("database_url", "postgresql://al@db.example.dk/al", "postgresql://al@db.example.dk/al"),
        ("database_url", "postgres://db:5432/al", "postgres://db:5432/al"),
        ("database_url", "", None),
        ("redis_url", "redis://cache:6379/0", "redis://cache:6379/0"),
        ("redis_url", "rediss://:pw@cache/1", "rediss://:pw@cache/1"),
        ("redis_url", "unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("redis_key_prefix", "node1:", "node1:"),
        ("host", "0.0.0.0", "0.0.0.0"),  # noqa: S104 - a value to parse, not to bind
        ("host", "  ", "127.0.0.1"),
        ("port", "9000", 9000),
        ("port", " 443 ", 443),
        ("public_origin", "https://advice.example.dk", "https://advice.example.dk"),
        ("public_origin", "https://advice.example.dk/", "https://advice.example.dk"),
        ("public_origin", "http://localhost:8080", "http://localhost:8080"),
        ("public_origin", "", None),
        ("trust_proxy_headers", "yes", True),
        ("trust_proxy_headers", "0", False),
        ("cookie_secure", "TRUE", True),
        ("cookie_secure", "off", False),
        ("session_idle_minutes", "30", 30),
        ("session_max_hours", "12", 12),
        ("login_max_failures_per_account", "3", 3),
        ("login_max_failures_per_address", "100", 100),
        ("login_throttle_window_seconds", "60", 60),
        ("max_body_bytes", "1024", 1024),
        ("ws_heartbeat_seconds", "2.5", 2.5),
        ("ws_max_message_bytes", "4096", 4096),
        ("migrate_on_start", "false", False),
        ("log_format", "JSON", "json"),
        ("log_level", "debug", "debug"),
        ("event_loop", "asyncio", "asyncio"),
        ("db_pool_min", "1", 1),
        ("db_pool_max", "50", 50),
        ("default_language", "en", "en"),
    ],
)
def test_each_setting_is_read_from_its_environment_variable(
    name: str, raw: str, expected: Any
) -> None:
    settings = load_settings(env(**{name: raw}))

    assert getattr(settings, name) == expected


def test_every_field_has_an_environment_variable() -> None:
    """No setting is unreachable: each field accepts its own default back from the env."""
    defaults = Settings()
    names = [f for f in Settings.__dataclass_fields__ if getattr(defaults, f) is not None]
    environ = {env_name(name): as_env(getattr(defaults, name)) for name in names}
    assert load_settings(environ) == defaults


def as_env(value: object) -> str:
    """How an operator writes a value in the environment (lists comma-separated)."""
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("environment", "staging"),
        ("data_dir", ""),
        ("data_dir", "   "),
        ("database_url", "mysql://x"),
        ("database_url", "postgresql:///no-host"),
        ("redis_url", "http://x"),
        ("redis_key_prefix", ""),
        ("redis_key_prefix", "has space:"),
        ("redis_key_prefix", "x" * 33),
        ("port", "abc"),
        ("port", "70000"),
        ("port", "-1"),
        ("port", ""),
        ("port", "80.5"),
        ("public_origin", "https://advice.example.dk/app"),
        ("public_origin", "ftp://advice.example.dk"),
        ("public_origin", "advice.example.dk"),
        # An origin is scheme, host and port; the Origin header can never equal these.
        pytest.param("public_origin", "https://advice.example.dk?next=/", id="origin-query"),
        pytest.param("public_origin", "https://advice.example.dk#top", id="origin-fragment"),
        pytest.param("public_origin", "https://user:pw@advice.example.dk", id="origin-userinfo"),
        ("trust_proxy_headers", "maybe"),
        ("cookie_secure", "2"),
        ("migrate_on_start", ""),
        ("session_idle_minutes", "0"),
        ("session_idle_minutes", str(7 * 24 * 60 + 1)),
        ("session_max_hours", "0"),
        ("login_max_failures_per_account", "0"),
        ("login_throttle_window_seconds", "86401"),
        ("max_body_bytes", "1023"),
        ("ws_heartbeat_seconds", "0"),
        ("ws_heartbeat_seconds", "fast"),
        ("ws_heartbeat_seconds", "nan"),
        ("ws_max_message_bytes", "100"),
        ("log_format", "xml"),
        ("log_level", "trace"),
        ("event_loop", "tokio"),
        ("db_pool_min", "0"),
        ("db_pool_max", "501"),
        ("default_language", "de"),
    ],
)
def test_a_bad_value_is_refused_naming_its_environment_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(**{name: raw}))

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(env_name(name) + ":")
    assert env_name(name) in str(caught.value)


def test_several_bad_settings_are_reported_together() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(port="abc", log_format="xml", cookie_secure="maybe", data_dir=""))

    named = {problem.split(":")[0] for problem in caught.value.problems}
    assert named == {
        "ADVICE_LINE_PORT",
        "ADVICE_LINE_LOG_FORMAT",
        "ADVICE_LINE_COOKIE_SECURE",
        "ADVICE_LINE_DATA_DIR",
    }


def test_the_message_quotes_the_bad_value() -> None:
    with pytest.raises(SettingsError, match=r"ADVICE_LINE_PORT: .*'abc'"):
        load_settings(env(port="abc"))


def test_db_pool_min_above_max_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(db_pool_min="20", db_pool_max="5"))

    assert caught.value.problems == [
        "ADVICE_LINE_DB_POOL_MIN: must not exceed ADVICE_LINE_DB_POOL_MAX (20 > 5)"
    ]


def test_db_pool_min_above_the_default_max_is_refused() -> None:
    with pytest.raises(SettingsError, match="ADVICE_LINE_DB_POOL_MIN"):
        load_settings(env(db_pool_min=str(Settings.db_pool_max + 1)))


def test_db_pool_min_equal_to_max_is_fine() -> None:
    settings = load_settings(env(db_pool_min="7", db_pool_max="7"))
    assert (settings.db_pool_min, settings.db_pool_max) == (7, 7)


# Production ---------------------------------------------------------------------------

ORIGIN = "https://advice.example.dk"


def test_production_defaults() -> None:
    settings = load_settings(env(environment="production", public_origin=ORIGIN))

    assert settings.production
    assert settings.log_format == "json"
    assert settings.cookie_secure is True
    assert settings.migrate_on_start is False


def test_production_defaults_can_be_overridden_explicitly() -> None:
    settings = load_settings(
        env(environment="production", public_origin=ORIGIN, log_format="console")
    )
    assert settings.log_format == "console"


def test_production_requires_a_public_origin() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(environment="production"))

    assert caught.value.problems == ["ADVICE_LINE_PUBLIC_ORIGIN: required in production"]


def test_production_requires_an_https_public_origin() -> None:
    with pytest.raises(SettingsError, match=r"ADVICE_LINE_PUBLIC_ORIGIN: must be https://"):
        load_settings(env(environment="production", public_origin="http://advice.example.dk"))


def test_http_public_origin_is_fine_outside_production() -> None:
    settings = load_settings(env(public_origin="http://advice.example.dk"))
    assert settings.public_origin == "http://advice.example.dk"


# Config file --------------------------------------------------------------------------


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "advice-line.toml"
    path.write_text(text, encoding="utf-8")
    return {"ADVICE_LINE_CONFIG_FILE": str(path)}


def test_config_file_is_read(tmp_path: Path) -> None:
    environ = write_config(
        tmp_path,
        'port = 9100\nlog_level = "debug"\ncookie_secure = true\n'
        'ws_heartbeat_seconds = 1.5\ndata_dir = "/srv/al"\n',
    )

    settings = load_settings(environ)

    assert settings.port == 9100
    assert settings.log_level == "debug"
    assert settings.cookie_secure is True
    assert settings.ws_heartbeat_seconds == 1.5
    assert settings.data_dir == Path("/srv/al")


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    environ = write_config(tmp_path, 'port = 9100\nlog_level = "debug"\n')
    environ |= env(port="9200")

    settings = load_settings(environ)

    assert settings.port == 9200
    assert settings.log_level == "debug"


def test_environment_set_to_production_in_the_file_brings_production_defaults(
    tmp_path: Path,
) -> None:
    environ = write_config(tmp_path, f'environment = "production"\npublic_origin = "{ORIGIN}"\n')

    settings = load_settings(environ)

    assert settings.production
    assert settings.log_format == "json"


def test_unknown_key_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "port = 9100\nprot = 9200\n")

    with pytest.raises(SettingsError) as caught:
        load_settings(environ)

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("prot: unknown setting")
    assert str(tmp_path / "advice-line.toml") in caught.value.problems[0]


def test_bad_value_in_the_config_file_names_the_setting(tmp_path: Path) -> None:
    environ = write_config(tmp_path, 'port = "abc"\n')

    with pytest.raises(SettingsError, match="ADVICE_LINE_PORT"):
        load_settings(environ)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    with pytest.raises(SettingsError) as caught:
        load_settings({"ADVICE_LINE_CONFIG_FILE": str(missing)})

    assert caught.value.problems == [f"ADVICE_LINE_CONFIG_FILE: file {missing} does not exist"]


def test_invalid_toml_is_named(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "port = = 1\n")

    with pytest.raises(SettingsError) as caught:
        load_settings(environ)

    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert problem.startswith("ADVICE_LINE_CONFIG_FILE:")
    assert "not valid TOML" in problem
    assert str(tmp_path / "advice-line.toml") in problem


def test_file_and_environment_problems_are_reported_together(tmp_path: Path) -> None:
    environ = write_config(tmp_path, "colour = 1\n") | env(port="abc")

    with pytest.raises(SettingsError) as caught:
        load_settings(environ)

    assert len(caught.value.problems) == 2


def test_blank_config_file_variable_means_no_file() -> None:
    assert load_settings({"ADVICE_LINE_CONFIG_FILE": "  "}) == Settings()


# Overrides and replace ----------------------------------------------------------------


def test_overrides_win_over_the_environment() -> None:
    settings = load_settings(env(port="9000"), overrides={"port": 9001})
    assert settings.port == 9001


def test_overrides_are_validated() -> None:
    with pytest.raises(SettingsError, match="ADVICE_LINE_PORT"):
        load_settings({}, overrides={"port": 70000})


def test_replace_returns_a_changed_copy() -> None:
    settings = Settings()
    changed = settings.replace(port=1234)

    assert changed.port == 1234
    assert settings.port == 8080


def test_a_misspelt_variable_is_named_not_ignored():
    with pytest.raises(SettingsError) as raised:
        load_settings({"ADVICE_LINE_PROT": "9000"})
    assert "ADVICE_LINE_PROT" in str(raised.value)


def test_test_harness_variables_are_not_settings():
    settings = load_settings({"ADVICE_LINE_TEST_DATABASE_URL": "postgresql://x/y"})
    assert settings.database_url is None


def test_origin_is_normalised_like_a_browser_sends_it():
    settings = load_settings({"ADVICE_LINE_PUBLIC_ORIGIN": "HTTPS://Advice.Example.dk:443/"})
    assert settings.public_origin == "https://advice.example.dk"


def test_the_shipped_example_configuration_is_valid():
    example = Path(__file__).resolve().parents[2] / "deploy" / "advice-line.example.toml"
    settings = load_settings({"ADVICE_LINE_CONFIG_FILE": str(example)})
    assert settings.production
    assert settings.public_origin == "https://advice.example.dk"
