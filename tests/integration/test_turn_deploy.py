"""deploy/turnserver.conf runs in a real coturn and accepts exactly the credentials the
service issues (coturn's REST-API scheme), refusing forged and expired ones."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aioice import stun, turn

from signalling.ice import IceConfig, ice_servers, turn_credential
from tests.integration.call_helpers import Coturn, turnserver_or_skip

pytestmark = pytest.mark.slow

DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "turnserver.conf"


@pytest.fixture
async def deployed(tmp_path) -> AsyncIterator[Coturn]:
    server = Coturn(turnserver_or_skip(), tmp_path)
    await server.start(config_text=server.for_loopback(DEPLOY_CONFIG.read_text()))
    yield server
    await server.stop()


async def allocate(server: Coturn, username: str, password: str) -> tuple[str, int]:
    """A TURN allocation with these credentials; the relayed address coturn gave."""
    transport, _ = await turn.create_turn_endpoint(
        asyncio.DatagramProtocol, ("127.0.0.1", server.port), username, password
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


def test_the_deploy_config_refuses_loopback_and_private_peers() -> None:
    lines = DEPLOY_CONFIG.read_text().splitlines()
    settings = [line for line in lines if line and not line.startswith("#")]

    assert "use-auth-secret" in settings and "no-cli" in settings
    assert "allow-loopback-peers" not in settings
    for private in ("10.0.0.0-10.255.255.255", "172.16.0.0-172.31.255.255",
                    "192.168.0.0-192.168.255.255", "169.254.0.0-169.254.255.255"):  # fmt: skip
        assert f"denied-peer-ip={private}" in settings
    # Every setting is explained: its paragraph (lines up to a blank one) has a comment.
    for index, line in enumerate(lines):
        if line and not line.startswith("#"):
            paragraph = []
            for above in reversed(lines[:index]):
                if not above.strip():
                    break
                paragraph.append(above)
            assert any(a.startswith("#") for a in paragraph), line


async def test_the_services_credential_allocates_a_relay(deployed: Coturn) -> None:
    config = IceConfig(turn_urls=(f"turn:127.0.0.1:{deployed.port}?transport=udp",),
                       turn_secret=deployed.secret, ttl_seconds=300)  # fmt: skip
    server = ice_servers(config, 42, time.time())[0]

    host, port = await allocate(deployed, server["username"], server["credential"])

    assert host == "127.0.0.1" and port > 0


@pytest.mark.parametrize("case", ["forged", "expired"])
async def test_forged_and_expired_credentials_are_refused(deployed: Coturn, case: str) -> None:
    if case == "forged":
        cred = turn_credential(secrets.token_urlsafe(24), 42, int(time.time()) + 300)
    else:
        cred = turn_credential(deployed.secret, 42, int(time.time()) - 60)

    with pytest.raises(stun.TransactionFailed, match="401"):
        await allocate(deployed, cred.username, cred.credential)
