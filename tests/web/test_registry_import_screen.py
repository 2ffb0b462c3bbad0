"""Dashboard: importing the register from an uploaded file: a dry run with its error
report first, nothing written until the admin confirms; admins only; CSRF on the upload."""

from __future__ import annotations

import re

from sqlmodel import func, select

from storage.models import AuditLog, RegistryPerson
from tests.services.test_registry_import import BUDI, CLEAN, HEADER, SITI
from tests.web.test_dashboard import Office, office

__all__ = ["office"]
DIRTY = "\n".join([HEADER, SITI, SITI[1:], BUDI]) + "\n"  # line 3: a 15-digit NIK


async def _people(office: Office) -> int:
    async with office.runtime.db.session() as session:
        return (await session.exec(select(func.count()).select_from(RegistryPerson))).one()


async def test_upload_check_then_confirm(office: Office) -> None:
    await office.sign_in("camat")
    csrf = await office.csrf("/registry/import")
    files = {"file": ("dtsen.csv", DIRTY.encode(), "text/csv")}
    checked = await office.client.post("/registry/import", data={"csrf": csrf}, files=files)
    assert checked.status_code == 200
    assert "baris 3" in checked.text and "16 angka" in checked.text
    assert await _people(office) == 0  # a dry run writes nothing
    upload = re.search(r'name="upload" value="([^"]+)"', checked.text)
    assert upload
    done = await office.client.post(
        "/registry/import/confirm", data={"csrf": csrf, "upload": upload.group(1)}
    )
    assert done.status_code == 200 and "Impor selesai" in done.text
    assert await _people(office) == 2
    again = await office.client.post(
        "/registry/import/confirm", data={"csrf": csrf, "upload": upload.group(1)}
    )
    assert "sudah tidak ada" in again.text  # the file is gone once imported
    traversal = await office.client.post(
        "/registry/import/confirm", data={"csrf": csrf, "upload": "../../etc/passwd"}
    )
    assert "sudah tidak ada" in traversal.text
    async with office.runtime.db.session() as session:
        imports = (
            await session.exec(select(AuditLog).where(AuditLog.action == "registry.import"))
        ).all()
    assert [row.actor for row in imports] == [f"officer:{office.ids['camat']}"]


async def test_only_admins_with_a_valid_form_may_upload(office: Office) -> None:
    await office.sign_in("darmo")
    assert (await office.client.get("/registry/import")).status_code == 403
    await office.sign_in("camat")
    files = {"file": ("dtsen.csv", CLEAN.encode(), "text/csv")}
    forged = await office.client.post("/registry/import", data={"csrf": "x" * 64}, files=files)
    assert forged.status_code == 403
    csrf = await office.csrf("/registry/import")
    wrong = {"file": ("foto.jpg", b"\xff\xd8\xff", "image/jpeg")}
    refused = await office.client.post("/registry/import", data={"csrf": csrf}, files=wrong)
    assert refused.status_code == 200 and ".csv atau .xlsx" in refused.text
    assert await _people(office) == 0
