"""No patient-identifying data in logs, whatever a request carries."""

from __future__ import annotations

import io

import structlog

from advice_line.logsetup import configure_logging

NAME = "Zacharias Sporbarsen"
CPR = "010203-1234"


async def test_patient_requests_leave_no_identifying_data_in_logs(client, login_as):
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    try:
        await login_as("nurse")
        created = await client.post("/api/v1/patients", json={
            "reference": CPR, "name": NAME, "diagnosis_group": "cancer",
            "notes": f"Patienten {NAME}, cpr {CPR}, har smerter",
        })  # fmt: skip
        assert created.status == 201
        patient_id = (await created.json())["patient"]["id"]
        await client.get(f"/api/v1/patients/{patient_id}")
        await client.get("/api/v1/patients", params={"q": NAME})
        await client.patch(f"/api/v1/patients/{patient_id}", json={"notes": f"{NAME} {CPR}"})
        bad = await client.post(
            "/api/v1/patients", json={"reference": CPR, "name": NAME, "diagnosis_group": "x"}
        )
        assert bad.status == 422
        structlog.get_logger("test").info("explicit", name=NAME, message=f"about {CPR}")
    finally:
        structlog.reset_defaults()
    output = stream.getvalue()
    assert "http.request" in output, "the requests were logged"
    assert NAME not in output
    assert "Sporbarsen" not in output
    assert CPR not in output and "0102031234" not in output
