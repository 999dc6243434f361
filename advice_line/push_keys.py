"""VAPID keys (RFC 8292): reading a configured key, or making one once and keeping it.

Browsers bind a push subscription to the server's public key; a new key would orphan every
subscription. So without a configured key the first start writes one into the data
directory (mode 0600) and every later start, on any node sharing the directory, reads it.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_FILE = "vapid_private.pem"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def b64url_decode(text: str) -> bytes:
    """Strict base64url (padding optional); ValueError on anything else."""
    text = text.strip()
    if not _B64URL.fullmatch(text):
        raise ValueError("is not base64url")
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM, or base64url of the raw 32-byte scalar or of DER."""
    text = text.strip()
    try:
        if "-----BEGIN" in text:
            # An environment variable may carry the PEM's line breaks as literal "\n".
            pem = text.replace("\\n", "\n").encode("ascii")
            key = serialization.load_pem_private_key(pem, password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm):
        raise ValueError(
            "must be an unencrypted P-256 private key: PEM, or base64url of the raw 32 bytes"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("must be a P-256 (prime256v1) elliptic-curve key")
    return key


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The public key as browsers want it (``applicationServerKey``): base64url, uncompressed."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url_encode(point)


def load_or_create(configured: str | None, data_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The configured key; else the one in ``data_dir``, written there first if missing."""
    if configured:
        return parse_private_key(configured)
    path = data_dir / KEY_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    # Written in full under a temporary name, then linked into place: a node starting at
    # the same moment either loses the link and reads our key, or we read its key.
    temporary = data_dir / f".{KEY_FILE}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem(key))
        os.link(temporary, path)
    except FileExistsError:
        return _read(path)
    finally:
        temporary.unlink(missing_ok=True)
    return key


def _read(path: Path) -> ec.EllipticCurvePrivateKey:
    text = path.read_text(encoding="ascii", errors="replace")
    try:
        return parse_private_key(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
