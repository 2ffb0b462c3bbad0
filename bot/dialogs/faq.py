"""FAQ: the closest question to what the resident typed, or a list of topics.

```mermaid
stateDiagram-v2
    [*] --> ask: topics (or a direct answer when opened with a question)
    ask --> ask: a topic or a question → the answer, then "another question?"
    ask --> ask: nothing close → suggestions and the office contact
    ask --> [*]: menu
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, stay
from bot.dialogs.routing import link_warning
from bot.intents import Intent
from bot.messages import Choice, Reply
from bot.services.faq import FaqEntry
from bot.text import has_link

PREFIX = "faq:"
TOPICS = Choice("faq:topics", "faq.more_topics")
ANSWER_SCORE = 75.0
SUGGEST_SCORE = 55.0
TOPIC_COUNT = 9


class Step(StrEnum):
    ASK = "ask"


def _entry_choice(entry: FaqEntry) -> Choice:
    return Choice(PREFIX + entry.id, "faq.question", {"question": entry.question})


class FaqDialog(Dialog):
    name = "faq"
    Step = Step
    menu_key = "menu.faq"
    intents = (Intent.FAQ,)

    def _topics(self, ctx: DialogContext, key: str = "faq.prompt") -> Reply:
        entries = ctx.runtime.faq.entries(ctx.locale)[:TOPIC_COUNT]
        return Reply(key, choices=(*(_entry_choice(e) for e in entries), MENU_CHOICE))

    def _answer(self, entry: FaqEntry) -> Outcome:
        answer = Reply(
            "faq.answer",
            {"question": entry.question, "answer": entry.answer},
            choices=(TOPICS, MENU_CHOICE),
        )
        return stay(Step.ASK, answer)

    async def start(self, ctx: DialogContext) -> Outcome:
        entry_id = ctx.data.get("entry")
        if isinstance(entry_id, str):
            entry = ctx.runtime.faq.get(ctx.locale, entry_id)
            if entry is not None:
                return self._answer(entry)
        return stay(Step.ASK, self._topics(ctx))

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        faq = ctx.runtime.faq
        choice = ctx.incoming.choice_id
        if choice == TOPICS.id:
            return stay(Step.ASK, self._topics(ctx))
        if choice is not None and choice.startswith(PREFIX):
            entry = faq.get(ctx.locale, choice.removeprefix(PREFIX))
            if entry is not None:
                return self._answer(entry)
        if not ctx.text:
            return stay(Step.ASK, self._topics(ctx, "faq.ask_in_words"))
        if has_link(ctx.text):
            return link_warning(ctx)
        hits = faq.search(ctx.locale, ctx.text, limit=3)
        if hits and hits[0].score >= ANSWER_SCORE:
            return self._answer(hits[0].entry)
        close = [hit.entry for hit in hits if hit.score >= SUGGEST_SCORE]
        if close:
            suggestions = (*(_entry_choice(e) for e in close), TOPICS, MENU_CHOICE)
            return stay(Step.ASK, Reply("faq.did_you_mean", choices=suggestions))
        contact = ctx.runtime.settings.office_contact
        not_found = Reply("faq.not_found", {"contact": contact}, choices=(TOPICS, MENU_CHOICE))
        return stay(Step.ASK, not_found)
