"""The copy of what routing needs during an outage: the patients part is kept up to date
with new patients every refresh and copied whole only every few minutes."""

from __future__ import annotations

import datetime as dt

from advice_line.outage import directory as directory_module
from advice_line.outage.directory import Directory
from advice_line.rota_cache import RotaCache


async def add_patient(db, org: int, reference: str) -> int:
    return int(await db.fetchval(
        "INSERT INTO patients (reference, organisation_id, name, diagnosis_group) "
        "VALUES ($1, $2, 'Karl Fiktivsen', 'cancer') RETURNING id", reference, org))  # fmt: skip


async def test_new_patients_join_the_copy_and_deleted_ones_leave_at_the_whole_copy(db, make_org):
    home = await make_org(kind="home_care")
    first = await add_patient(db, home["id"], "D-1")
    copy, rotas = Directory(), RotaCache()
    now = dt.datetime.now(dt.UTC)
    await copy.refresh(db, rotas, now)
    assert copy.patients == {first: home["id"]} and copy.ready

    second = await add_patient(db, home["id"], "D-2")
    await db.execute("DELETE FROM patients WHERE id = $1", first)
    await copy.refresh(db, rotas, now + dt.timedelta(seconds=5))
    # The new patient is there at once; the deleted one until the next whole copy.
    assert copy.patients == {first: home["id"], second: home["id"]}

    # A patient whose transaction committed late (created before the last copy began) is
    # still found: the copy reads back over an overlap.
    late = await add_patient(db, home["id"], "D-3")
    await db.execute(
        "UPDATE patients SET created_at = now() - $2::interval WHERE id = $1",
        late, directory_module.PATIENTS_OVERLAP / 2,
    )  # fmt: skip
    await copy.refresh(db, rotas, now + dt.timedelta(seconds=10))
    assert late in copy.patients

    whole = now + directory_module.PATIENTS_WHOLE_EVERY + dt.timedelta(seconds=1)
    await copy.refresh(db, rotas, whole)
    assert copy.patients == {second: home["id"], late: home["id"]}
