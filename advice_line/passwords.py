"""Password hashing with argon2id (memory-hard), and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, t=3, p=4)
# Verified against when the user does not exist, so both paths cost the same time.
_DUMMY_HASH = _HASHER.hash("not-a-real-password-but-costs-the-same")


def use_cheap_hashing_for_tests() -> None:
    """Make hashing fast (still argon2id) so the test suite is not dominated by it.

    Hashes keep their parameters, so production-cost hashes still verify (and are then
    rehashed at the cheaper cost, which is why this is for tests only).
    """
    global _HASHER, _DUMMY_HASH
    _HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _DUMMY_HASH = _HASHER.hash("not-a-real-password-but-costs-the-same")


MIN_LENGTH = 10
MAX_LENGTH = 256


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; constant work whether or not a user exists."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


def password_problem(password: str) -> str | None:
    """Why a new password is unacceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if password.strip() != password or not password.strip():
        return "must not start or end with spaces"
    return None
