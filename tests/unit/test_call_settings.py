"""The ICE/TURN settings: URLs checked, the shared secret never shown, TURN needs the secret."""

from __future__ import annotations

import pytest

from advice_line.settings import Settings, SettingsError, load_settings


def test_defaults_hand_out_loopback_stun_and_no_turn() -> None:
    settings = load_settings({})

    assert settings.stun_urls == ("stun:127.0.0.1:3478",)
    assert settings.turn_urls == () and settings.turn_secret is None
    assert settings.turn_ttl_seconds == 3600


def test_a_full_turn_setup_loads() -> None:
    settings = load_settings({
        "ADVICE_LINE_STUN_URLS": "stun:turn.example.dk:3478",
        "ADVICE_LINE_TURN_URLS": "turn:turn.example.dk:3478?transport=udp, turns:turn.example.dk:5349?transport=tcp",
        "ADVICE_LINE_TURN_SECRET": "a-very-long-shared-secret",
        "ADVICE_LINE_TURN_TTL_SECONDS": "900",
    })  # fmt: skip

    assert settings.turn_urls == (
        "turn:turn.example.dk:3478?transport=udp",
        "turns:turn.example.dk:5349?transport=tcp",
    )
    assert settings.turn_ttl_seconds == 900
    assert "a-very-long-shared-secret" not in repr(settings)


def test_stun_can_be_switched_off() -> None:
    assert load_settings({"ADVICE_LINE_STUN_URLS": ""}).stun_urls == ()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ADVICE_LINE_STUN_URLS", "http://stun.example.dk"),
        ("ADVICE_LINE_STUN_URLS", "turn:turn.example.dk"),
        ("ADVICE_LINE_STUN_URLS", "stun:host with space"),
        ("ADVICE_LINE_TURN_URLS", "stun:stun.example.dk"),
        ("ADVICE_LINE_TURN_URLS", "turn:t.example.dk:3478?transport=sctp"),
        ("ADVICE_LINE_TURN_TTL_SECONDS", "10"),
        ("ADVICE_LINE_TURN_TTL_SECONDS", "a day"),
    ],
)
def test_bad_values_name_the_setting(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value, "ADVICE_LINE_TURN_SECRET": "long-enough-secret-123"})

    assert variable in str(caught.value)


def test_a_short_secret_is_refused_without_being_shown() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ADVICE_LINE_TURN_SECRET": "short-s3cret"})

    assert "ADVICE_LINE_TURN_SECRET" in str(caught.value)
    assert "short-s3cret" not in str(caught.value)


def test_turn_urls_need_the_secret() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ADVICE_LINE_TURN_URLS": "turn:turn.example.dk:3478"})

    assert "ADVICE_LINE_TURN_SECRET: required when ADVICE_LINE_TURN_URLS is set" in str(
        caught.value
    )


def test_a_toml_file_may_give_lists(tmp_path) -> None:
    config = tmp_path / "advice-line.toml"
    config.write_text(
        'stun_urls = ["stun:a.example.dk:3478", "stun:b.example.dk:3478"]\n'
        'turn_urls = ["turn:a.example.dk:3478"]\nturn_secret = "from-the-file-0123456"\n'
    )

    settings = load_settings({"ADVICE_LINE_CONFIG_FILE": str(config)})

    assert settings.stun_urls == ("stun:a.example.dk:3478", "stun:b.example.dk:3478")
    assert isinstance(settings, Settings) and settings.turn_secret == "from-the-file-0123456"
