"""The media purge, run by `serve`: evidence files nobody needs are deleted.

A file a resident sent (a photo, a document, a voice note) is kept while a report names it
as evidence, or while a report draft in progress holds it. Anything else (a KTP photo sent
at the NIK step, the files of a report never sent) goes once it is older than the grace
period. Each pass only reads the database and deletes files, so several instances may run
it at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from bot.runtime import Runtime
from bot.services.media import MediaStore, purge_unreferenced
from bot.workers.clock import every
from storage.types import utcnow

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 15 * 60


async def run_once(runtime: Runtime, now: datetime | None = None) -> int:
    """One pass; returns how many files were deleted."""
    moment = now or utcnow()
    settings = runtime.settings
    # A draft idle longer than this is dropped at the resident's next message.
    drafts_since = moment - timedelta(minutes=settings.conversation_idle_minutes)
    store = MediaStore(settings.media_dir)
    deleted = await purge_unreferenced(runtime.db, store, moment, drafts_since)
    if deleted:
        log.info("media purge: %d unreferenced files deleted", deleted)
    return deleted


async def run_forever(runtime: Runtime, interval: float = INTERVAL_SECONDS) -> None:
    await every("media purge", interval, partial(run_once, runtime))
