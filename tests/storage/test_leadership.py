"""One leader per name across instances (PostgreSQL advisory lock); SQLite always leads."""

from __future__ import annotations

from storage.db import Database, Leadership


async def test_one_instance_leads_until_it_lets_go(migrated_url: str) -> None:
    first_db, second_db = Database(migrated_url), Database(migrated_url)
    first, second = Leadership(first_db, "sender:1"), Leadership(second_db, "sender:1")
    other_name = Leadership(second_db, "sender:2")
    try:
        assert await first.lead()
        assert await first.lead()  # still leading
        if first_db.is_sqlite:
            assert await second.lead()  # one process: always the leader
            return
        assert not await second.lead()
        assert await other_name.lead()  # another name is another lock
        await first.release()
        assert await second.lead()
    finally:
        for leadership in (first, second, other_name):
            await leadership.release()
        await first_db.dispose()
        await second_db.dispose()
