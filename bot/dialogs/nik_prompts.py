"""What the status check and training registration share about asking for a NIK."""

from __future__ import annotations

from bot.dialogs.base import DialogContext
from bot.services.nik import NikProblem
from bot.services.pii import UnreadableSecret

# The kind answer for each way a typed NIK can be wrong.
NIK_PROBLEM_KEYS = {
    NikProblem.NO_DIGITS: "status.nik_no_digits",
    NikProblem.SEVERAL_NUMBERS: "status.nik_several",
    NikProblem.LOOKALIKE_LETTERS: "status.nik_letters",
    NikProblem.LENGTH: "status.nik_length",
    NikProblem.BIRTH_DATE: "status.nik_birth_date",
    NikProblem.REGION: "status.nik_region",
}


def saved_nik(ctx: DialogContext) -> str | None:
    """The NIK the resident asked us to remember, or None (none, or sealed under an
    earlier SECRET_KEY and so unreadable)."""
    sealed = ctx.resident.saved_nik_encrypted
    if not sealed:
        return None
    try:
        return ctx.runtime.vault.decrypt(sealed)
    except UnreadableSecret:
        return None
