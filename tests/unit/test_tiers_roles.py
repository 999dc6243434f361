"""rota.tiers (escalation order) and advice_line.passwords (hashing and password rules)."""

from __future__ import annotations

import pytest

from advice_line.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from advice_line.roles import TIER_NAMES
from rota.tiers import TIERS, Tier

# Tiers ----------------------------------------------------------------------------------


def test_tiers_in_escalation_order() -> None:
    assert list(Tier) == [Tier.SENIOR_NURSE, Tier.GP, Tier.SPECIALIST]
    assert TIERS == (Tier.SENIOR_NURSE, Tier.GP, Tier.SPECIALIST)


@pytest.mark.parametrize(
    ("tier", "level"), [(Tier.SENIOR_NURSE, 1), (Tier.GP, 2), (Tier.SPECIALIST, 3)]
)
def test_tier_level(tier: Tier, level: int) -> None:
    assert tier.level == level


def test_levels_follow_the_escalation_order() -> None:
    assert [t.level for t in TIERS] == list(range(1, len(TIERS) + 1))


@pytest.mark.parametrize(("value", "tier"), [("senior_nurse", Tier.SENIOR_NURSE), ("gp", Tier.GP)])
def test_tiers_are_their_string_values(value: str, tier: Tier) -> None:
    assert Tier(value) is tier
    assert tier == value
    assert str(tier) == value


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(ValueError, match="nurse"):
        Tier("nurse")


def test_role_module_offers_every_tier_by_name() -> None:
    assert TIER_NAMES == ("senior_nurse", "gp", "specialist")


# Passwords ------------------------------------------------------------------------------

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_hash_and_verify_round_trip(stored: str) -> None:
    assert stored != PASSWORD
    assert PASSWORD not in stored
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, PASSWORD)


def test_wrong_password_is_refused(stored: str) -> None:
    assert not verify_password(stored, PASSWORD + "x")
    assert not verify_password(stored, PASSWORD.upper())
    assert not verify_password(stored, "")


def test_the_same_password_hashes_differently_each_time(stored: str) -> None:
    again = hash_password(PASSWORD)

    assert again != stored
    assert verify_password(again, PASSWORD)


def test_verify_against_no_user_is_false() -> None:
    assert not verify_password(None, PASSWORD)
    assert not verify_password(None, "")


def test_verify_against_no_user_is_false_even_for_the_dummy_password() -> None:
    # The dummy hash only spends the time; it must never let anyone in.
    assert not verify_password(None, "not-a-real-password-but-costs-the-same")


@pytest.mark.parametrize("garbage", ["", "not-a-hash", "$argon2id$v=19$broken", "$2b$12$abc"])
def test_verify_against_a_malformed_hash_is_false(garbage: str) -> None:
    assert not verify_password(garbage, PASSWORD)


def test_fresh_hash_needs_no_rehash(stored: str) -> None:
    assert not needs_rehash(stored)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("a" * MIN_LENGTH, None),
        ("a" * (MIN_LENGTH - 1), f"must be at least {MIN_LENGTH} characters"),
        ("", f"must be at least {MIN_LENGTH} characters"),
        ("a" * MAX_LENGTH, None),
        ("a" * (MAX_LENGTH + 1), f"must be at most {MAX_LENGTH} characters"),
        ("correct horse battery", None),
        ("ÆbleGrød-Øl-2026", None),
        (" leading-space", "must not start or end with spaces"),
        ("trailing-space ", "must not start or end with spaces"),
        ("\ttabbed-password", "must not start or end with spaces"),
        ("password-newline\n", "must not start or end with spaces"),
        (" " * MIN_LENGTH, "must not start or end with spaces"),
    ],
)
def test_password_problem(password: str, problem: str | None) -> None:
    assert password_problem(password) == problem


def test_rules_are_ten_to_256_characters() -> None:
    assert (MIN_LENGTH, MAX_LENGTH) == (10, 256)
