"""The pre-call test's settings: echo peers per node and their lifetime, checked at start."""

from __future__ import annotations

import pytest

from advice_line.settings import SettingsError, load_settings


def test_defaults_allow_twenty_tests_of_a_minute() -> None:
    settings = load_settings({})

    assert settings.echo_max_peers == 20
    assert settings.echo_lifetime_seconds == 60.0


def test_both_can_be_set() -> None:
    settings = load_settings(
        {"ADVICE_LINE_ECHO_MAX_PEERS": "5", "ADVICE_LINE_ECHO_LIFETIME_SECONDS": "30"}
    )

    assert (settings.echo_max_peers, settings.echo_lifetime_seconds) == (5, 30.0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ADVICE_LINE_ECHO_MAX_PEERS", "0"),
        ("ADVICE_LINE_ECHO_MAX_PEERS", "1001"),
        ("ADVICE_LINE_ECHO_MAX_PEERS", "many"),
        ("ADVICE_LINE_ECHO_LIFETIME_SECONDS", "0.5"),
        ("ADVICE_LINE_ECHO_LIFETIME_SECONDS", "601"),
        ("ADVICE_LINE_ECHO_LIFETIME_SECONDS", "a minute"),
    ],
)
def test_bad_values_name_the_setting(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})

    assert variable in str(caught.value)


def test_a_toml_file_may_set_them(tmp_path) -> None:
    config = tmp_path / "advice-line.toml"
    config.write_text("echo_max_peers = 3\necho_lifetime_seconds = 45\n")

    settings = load_settings({"ADVICE_LINE_CONFIG_FILE": str(config)})

    assert (settings.echo_max_peers, settings.echo_lifetime_seconds) == (3, 45.0)
