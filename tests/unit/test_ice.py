"""signalling.ice: ICE server lists and TURN credentials in coturn's REST-API scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalling.ice import IceConfig, ice_servers, turn_credential
from signalling.rooms import polite

SECRET = "north-sea-shared-secret"


def test_credential_matches_an_independent_computation() -> None:
    # echo -n "1700003600:42" | openssl dgst -sha1 -hmac north-sea-shared-secret -binary | base64
    cred = turn_credential(SECRET, 42, 1_700_003_600)

    assert cred.username == "1700003600:42"
    assert cred.credential == "lSyV0Sm3YTG8k2qBeiJSSA+zw2w="
    assert cred.expires_at == 1_700_003_600


@given(st.integers(1, 2**63 - 1), st.integers(0, 2**40), st.text(min_size=16, max_size=64))
def test_credential_is_the_hmac_of_the_username(user_id: int, expiry: int, secret: str) -> None:
    cred = turn_credential(secret, user_id, expiry)

    assert cred.username == f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), cred.username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(cred.credential) == digest


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (IceConfig(), []),
        (IceConfig(stun_urls=("stun:127.0.0.1:3478",)), [{"urls": ["stun:127.0.0.1:3478"]}]),
        (
            IceConfig(turn_urls=("turn:t.example:3478?transport=udp",), turn_secret=SECRET,
                      ttl_seconds=60),
            [{"urls": ["turn:t.example:3478?transport=udp"], "username": "1000060:7",
              "credential": turn_credential(SECRET, 7, 1_000_060).credential}],
        ),
        (
            IceConfig(stun_urls=("stun:a:1", "stun:b:2"), turn_urls=("turn:t:3", "turns:t:5349"),
                      turn_secret=SECRET),
            [{"urls": ["stun:a:1", "stun:b:2"]},
             {"urls": ["turn:t:3", "turns:t:5349"], "username": "1003600:7",
              "credential": turn_credential(SECRET, 7, 1_003_600).credential}],
        ),
        # A secret alone hands out no TURN server (there is none to use it with).
        (IceConfig(turn_secret=SECRET), []),
    ],
)  # fmt: skip
def test_ice_servers(config: IceConfig, expected: list[dict[str, object]]) -> None:
    assert ice_servers(config, 7, 1_000_000.9) == expected


def test_the_expiry_is_now_plus_the_lifetime() -> None:
    config = IceConfig(turn_urls=("turn:t:3",), turn_secret=SECRET, ttl_seconds=600)

    first = ice_servers(config, 5, 2_000_000.0)[0]["username"]
    later = ice_servers(config, 5, 2_000_100.0)[0]["username"]

    assert (first, later) == ("2000600:5", "2000700:5")


def test_turn_urls_without_the_secret_are_refused() -> None:
    with pytest.raises(AssertionError):
        IceConfig(turn_urls=("turn:t:3",))


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_exactly_one_of_a_pair_is_polite_and_it_is_the_lower_id(a: int, b: int) -> None:
    if a == b:
        return
    assert polite(a, b) != polite(b, a)
    assert polite(min(a, b), max(a, b))
