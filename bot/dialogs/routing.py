"""Where free text goes when no question is pending: a journey, an FAQ answer, or help."""

from __future__ import annotations

from bot.dialogs.base import DialogContext, Outcome, goto
from bot.intents import Intent
from bot.messages import Reply
from bot.text import has_link

# An FAQ hit at least this close answers directly.
FAQ_ANSWER_SCORE = 80.0


def route_free_text(ctx: DialogContext) -> Outcome:
    text = ctx.text
    if has_link(text):
        return link_warning(ctx)
    match = ctx.runtime.intents.match(text)
    if match is not None:
        dialog = ctx.dialogs.for_intent(match.intent)
        if dialog is not None:
            return goto(dialog.name)
        if match.intent is Intent.GREETING:
            return goto("menu", Reply("menu.greeting"))
        if match.intent is Intent.THANKS:
            return goto("menu", Reply("menu.thanks"))
        topical = ctx.runtime.faq.best_for_intent(ctx.locale, match.intent.value, text)
        if topical is not None:
            return goto("faq", entry=topical.id)
    hits = ctx.runtime.faq.search(ctx.locale, text, limit=1)
    if hits and hits[0].score >= FAQ_ANSWER_SCORE:
        return goto("faq", entry=hits[0].entry.id)
    return goto("menu", Reply("common.not_understood"))


def link_warning(ctx: DialogContext) -> Outcome:
    """A message with a link: warn about scams, then the menu."""
    contact = ctx.runtime.settings.office_contact
    return goto("menu", Reply("scam.link_warning", {"contact": contact}))
