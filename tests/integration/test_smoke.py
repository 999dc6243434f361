async def test_health_and_login(client, make_user):
    from tests.conftest import login

    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    user = await make_user("nurse")
    await login(client, user["username"])
    me = await client.get("/api/v1/auth/me")
    assert (await me.json())["user"]["username"] == user["username"]
