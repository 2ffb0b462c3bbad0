"""Bulk reads and writes for the registry import, in portable Core SQL. Never commits.

Each function takes one batch (hundreds of rows), so a million-row import is a few
thousand round trips, not millions, and memory stays bounded by the batch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import Enrolment, Household, RegistryPerson, Village

PERSON = RegistryPerson.__table__  # type: ignore[attr-defined]
HOUSEHOLD = Household.__table__  # type: ignore[attr-defined]
ENROLMENT = Enrolment.__table__  # type: ignore[attr-defined]
VILLAGE = Village.__table__  # type: ignore[attr-defined]

Row = dict[str, Any]


async def village_names(conn: AsyncConnection) -> dict[str, str]:
    result = await conn.execute(select(VILLAGE.c.code, VILLAGE.c.name))
    return {str(code): str(name) for code, name in result.all()}


async def insert_villages(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    if rows:
        await conn.execute(insert(VILLAGE), list(rows))


async def households_by_hash(conn: AsyncConnection, hashes: Collection[str]) -> dict[str, Row]:
    if not hashes:
        return {}
    statement = select(HOUSEHOLD).where(HOUSEHOLD.c.kk_hash.in_(list(hashes)))
    return {row.kk_hash: dict(row._mapping) for row in (await conn.execute(statement)).all()}


async def people_by_hash(conn: AsyncConnection, hashes: Collection[str]) -> dict[str, Row]:
    if not hashes:
        return {}
    statement = select(PERSON).where(PERSON.c.nik_hash.in_(list(hashes)))
    return {row.nik_hash: dict(row._mapping) for row in (await conn.execute(statement)).all()}


async def enrolments_of_people(
    conn: AsyncConnection, person_ids: Collection[int]
) -> dict[tuple[int, str], Row]:
    if not person_ids:
        return {}
    statement = select(ENROLMENT).where(ENROLMENT.c.person_id.in_(list(person_ids)))
    rows = (await conn.execute(statement)).all()
    return {(row.person_id, row.programme): dict(row._mapping) for row in rows}


async def insert_households(conn: AsyncConnection, rows: Sequence[Row]) -> dict[str, int]:
    """kk_hash → new id."""
    if not rows:
        return {}
    statement = insert(HOUSEHOLD).returning(HOUSEHOLD.c.id, HOUSEHOLD.c.kk_hash)
    result = await conn.execute(statement, list(rows))
    return {kk_hash: row_id for row_id, kk_hash in result.all()}


async def insert_people(conn: AsyncConnection, rows: Sequence[Row]) -> dict[str, int]:
    """nik_hash → new id."""
    if not rows:
        return {}
    statement = insert(PERSON).returning(PERSON.c.id, PERSON.c.nik_hash)
    result = await conn.execute(statement, list(rows))
    return {nik_hash: row_id for row_id, nik_hash in result.all()}


async def insert_enrolments(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    if rows:
        await conn.execute(insert(ENROLMENT), list(rows))


async def update_by_id(
    conn: AsyncConnection, table_name: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Update rows by primary key; each mapping has `row_id` and the same other keys."""
    if not rows:
        return
    table = {"person": PERSON, "household": HOUSEHOLD, "enrolment": ENROLMENT}[table_name]
    columns = [key for key in rows[0] if key != "row_id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({column: bindparam("new_" + column) for column in columns})
    )
    params = [
        {"row_id": row["row_id"], **{"new_" + column: row[column] for column in columns}}
        for row in rows
    ]
    await conn.execute(statement, params)
