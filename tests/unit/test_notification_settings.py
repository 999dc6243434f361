"""Settings of the outbound notifications: VAPID key and subject, SMTP, alert recipients."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from advice_line import push_keys
from advice_line.settings import Settings, SettingsError, env_name, load_settings


def env(**values: str) -> dict[str, str]:
    return {env_name(name): value for name, value in values.items()}


def problems_of(environ: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    return caught.value.problems


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def raw_b64(key: ec.EllipticCurvePrivateKey) -> str:
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_defaults() -> None:
    settings = Settings()
    assert settings.vapid_private_key is None
    assert settings.vapid_subject == "mailto:drift@advice-line.dk"
    assert settings.smtp_host is None and settings.smtp_port == 25
    assert settings.smtp_starttls is False
    assert settings.alert_email_to == ()


def test_a_pem_key_is_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    pem = push_keys.private_pem(key).decode()
    settings = load_settings(env(vapid_private_key=pem))
    loaded = push_keys.parse_private_key(settings.vapid_private_key or "")
    assert push_keys.public_key_b64(loaded) == push_keys.public_key_b64(key)


def test_a_pem_with_escaped_line_breaks_is_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    one_line = push_keys.private_pem(key).decode().replace("\n", "\\n")
    loaded = push_keys.parse_private_key(one_line)
    assert push_keys.public_key_b64(loaded) == push_keys.public_key_b64(key)


def test_a_raw_base64url_key_is_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    loaded = push_keys.parse_private_key(raw_b64(key))
    assert push_keys.public_key_b64(loaded) == push_keys.public_key_b64(key)


def test_a_der_base64url_key_is_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    text = base64.urlsafe_b64encode(der).decode()
    assert push_keys.public_key_b64(push_keys.parse_private_key(text)) == (
        push_keys.public_key_b64(key)
    )


@pytest.mark.parametrize(
    "bad",
    [
        "not a key",
        "AAAA",
        base64.urlsafe_b64encode(b"\x00" * 32).decode(),  # zero is no private key
        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
    ],
)
def test_a_bad_key_stops_the_start_naming_the_variable_not_the_value(bad: str) -> None:
    (problem,) = problems_of(env(vapid_private_key=bad))
    assert problem.startswith("ADVICE_LINE_VAPID_PRIVATE_KEY: ")
    assert "(got hidden)" in problem
    if len(bad) > 8:
        assert bad not in problem


def test_a_key_on_another_curve_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    pem = push_keys.private_pem(other).decode()
    (problem,) = problems_of(env(vapid_private_key=pem))
    assert "P-256" in problem


def test_secrets_stay_out_of_the_settings_repr(key: ec.EllipticCurvePrivateKey) -> None:
    settings = Settings(vapid_private_key=raw_b64(key), smtp_password="hemmeligt")
    assert raw_b64(key) not in repr(settings)
    assert "hemmeligt" not in repr(settings)


@pytest.mark.parametrize(
    "subject", ["mailto:drift@advice-line.dk", "https://advice-line.dk/kontakt"]
)
def test_good_vapid_subjects(subject: str) -> None:
    assert load_settings(env(vapid_subject=subject)).vapid_subject == subject


@pytest.mark.parametrize(
    "subject", ["drift@advice-line.dk", "mailto:drift", "http://advice-line.dk", "https://x"]
)
def test_bad_vapid_subjects(subject: str) -> None:
    (problem,) = problems_of(env(vapid_subject=subject))
    assert problem.startswith("ADVICE_LINE_VAPID_SUBJECT: ")


def test_email_settings_from_the_environment() -> None:
    settings = load_settings(
        env(
            smtp_host="mail.example.dk",
            smtp_port="587",
            smtp_starttls="true",
            smtp_username="alerts",
            smtp_password="hemmeligt",
            smtp_from="Rådgivningslinjen <noreply@example.dk>",
            alert_email_to=" koordinator@example.dk, vagtleder@example.dk ",
        )
    )
    assert settings.smtp_host == "mail.example.dk" and settings.smtp_port == 587
    assert settings.smtp_starttls is True
    assert settings.alert_email_to == ("koordinator@example.dk", "vagtleder@example.dk")


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"smtp_host": "mail.example.dk"}, "ADVICE_LINE_ALERT_EMAIL_TO"),
        ({"alert_email_to": "a@example.dk"}, "ADVICE_LINE_SMTP_HOST"),
        ({"smtp_host": "smtp://mail.example.dk", "alert_email_to": "a@example.dk"},
         "ADVICE_LINE_SMTP_HOST"),
        ({"smtp_host": "m.dk", "alert_email_to": "a@example.dk, nobody"},
         "ADVICE_LINE_ALERT_EMAIL_TO"),
        ({"smtp_host": "m.dk", "alert_email_to": "a@example.dk\nBcc: x@evil.dk"},
         "ADVICE_LINE_ALERT_EMAIL_TO"),
        ({"smtp_from": "Drift <drift>"}, "ADVICE_LINE_SMTP_FROM"),
        ({"smtp_port": "0"}, "ADVICE_LINE_SMTP_PORT"),
        ({"smtp_host": "m.dk", "alert_email_to": "a@example.dk", "smtp_username": "u"},
         "ADVICE_LINE_SMTP_PASSWORD"),
        ({"smtp_host": "m.dk", "alert_email_to": "a@example.dk", "smtp_password": "p"},
         "ADVICE_LINE_SMTP_USERNAME"),
        ({"environment": "production", "public_origin": "https://a.dk", "smtp_host": "m.dk",
          "alert_email_to": "a@example.dk", "smtp_username": "u", "smtp_password": "p"},
         "ADVICE_LINE_SMTP_STARTTLS"),
    ],
)  # fmt: skip
def test_bad_email_settings_are_named(values: dict[str, str], variable: str) -> None:
    problems = problems_of(env(**values))
    assert [p.split(":")[0] for p in problems] == [variable]


def test_a_bad_smtp_password_is_not_echoed() -> None:
    problems = problems_of(env(smtp_password="geheim\nzwei"))
    assert problems == ["ADVICE_LINE_SMTP_PASSWORD: must be on one line (got hidden)"]


def test_a_spoilt_key_file_stops_the_start_naming_the_file(tmp_path) -> None:
    (tmp_path / push_keys.KEY_FILE).write_text("-----BEGIN PRIVATE KEY-----\nnonsense\n")
    with pytest.raises(ValueError, match=push_keys.KEY_FILE):
        push_keys.load_or_create(None, tmp_path)


def test_the_key_file_is_made_with_its_directory(tmp_path) -> None:
    data_dir = tmp_path / "new" / "var"
    made = push_keys.load_or_create(None, data_dir)
    again = push_keys.load_or_create(None, data_dir)
    assert push_keys.public_key_b64(made) == push_keys.public_key_b64(again)
    assert [p.name for p in data_dir.iterdir()] == [push_keys.KEY_FILE]
