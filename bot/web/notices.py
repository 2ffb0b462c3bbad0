"""Notices after a change (Post/Redirect/Get): "Tersimpan.", "3 laporan diperbarui."

The redirect names catalog keys and whole numbers, never text:

    return RedirectResponse(notice_url("/schedules", "scr.schedule.saved", id=7), 303)
    return RedirectResponse(error_url("/officers", "dash.off.error.self"), 303)

and the page it lands on translates them in the reader's own language:

    "message": read_notice(request.query_params, t),           # ?done=…
    "error": read_notice(request.query_params, t, "error"),    # ?error=…

Only keys listed in `NOTICES` are shown, with only their listed parameters, each a number
(`skipped_…`: a comma-separated list of report ids, shown as "#12, #13"). Anything else in
the query is ignored, so a link cannot make a dashboard page say words of its own. A
redirect may carry several keys of one kind (`?done=a&done=b`); the page shows them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

Kind = Literal["done", "error"]
MAX_LISTED = 30
SKIPPED = ("transition", "reason", "not_found", "not_allowed")
LISTS = frozenset(f"skipped_{why}" for why in SKIPPED)
_NUMBER = re.compile(r"[0-9]{1,10}")

# key → the names of its parameters (the catalog text's placeholders).
NOTICES: dict[str, tuple[str, ...]] = {
    "dash.report.saved": (),
    "dash.bulk.done": ("count",),
    "dash.bulk.unknown_action": (),
    **{f"dash.bulk.skipped.{why}": (f"skipped_{why}",) for why in SKIPPED},
    "dash.off.error.username": (),
    "dash.off.error.role": (),
    "dash.off.error.villages_needed": (),
    "dash.off.error.unknown_village": (),
    "dash.off.error.taken": (),
    "dash.off.error.not_found": (),
    "dash.off.error.self": (),
    "dash.off.error.other": (),
    "scr.settings.bad_code": (),
    "scr.settings.bad_name": (),
    "scr.training.attendance_saved": ("count",),
    "scr.schedule.saved": ("id",),
}

Params = Mapping[str, int | list[int]]


def notice_url(path: str, *keys: str, **params: int | list[int]) -> str:
    """`path` with a "done" notice in its query; every key must be in NOTICES."""
    return _url(path, "done", keys, params)


def error_url(path: str, *keys: str, **params: int | list[int]) -> str:
    """`path` with an "error" notice in its query; every key must be in NOTICES."""
    return _url(path, "error", keys, params)


def _url(path: str, kind: Kind, keys: tuple[str, ...], params: Params) -> str:
    query: list[tuple[str, str]] = []
    for key in keys:
        if key not in NOTICES:
            raise KeyError(key)
        query.append((kind, key))
    for name, value in params.items():
        shown = value[:MAX_LISTED] if isinstance(value, list) else [value]
        query.append((name, ",".join(str(number) for number in shown)))
    return f"{path}?{urlencode(query)}"


def read_notice(query: QueryParams, t: Callable[..., str], kind: Kind = "done") -> str:
    """The notice a redirect asked for, in the reader's language; "" when there is none
    (or when the query names something that is not a notice)."""
    texts = []
    for key in query.getlist(kind)[:10]:
        names = NOTICES.get(key)
        if names is None:
            continue
        values = {name: _numbers(query.get(name, ""), name in LISTS) for name in names}
        if any(value is None for value in values.values()):
            continue
        texts.append(t(key, **values))
    return " ".join(texts)


def _numbers(raw: str, listed: bool) -> str | None:
    """A number as given ("12"), a list as references ("12,13" → "#12, #13"); None for
    anything else."""
    parts = raw.split(",") if listed else [raw]
    if len(parts) > MAX_LISTED or not all(_NUMBER.fullmatch(part) for part in parts):
        return None
    return ", ".join(f"#{part}" for part in parts) if listed else raw
