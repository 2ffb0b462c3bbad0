"""Which dialogs exist, which open from the menu, and which intents open them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bot.dialogs.base import Dialog
from bot.intents import Intent
from bot.messages import Choice

MENU_PREFIX = "menu:"


class DialogRegistry:
    def __init__(self, dialogs: Iterable[Dialog]) -> None:
        self._dialogs = {dialog.name: dialog for dialog in dialogs}

    def get(self, name: str) -> Dialog | None:
        return self._dialogs.get(name)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(self._dialogs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._dialogs

    def for_intent(self, intent: Intent) -> Dialog | None:
        return next((d for d in self._dialogs.values() if intent in d.intents), None)

    def menu_choices(self) -> tuple[Choice, ...]:
        """Only journeys that exist and work are listed (DESIGN.md rule 10)."""
        return tuple(
            Choice(MENU_PREFIX + d.name, d.menu_key)
            for d in self._dialogs.values()
            if d.menu_key is not None
        )

    def for_global_choice(self, choice_id: str) -> Dialog | None:
        return next(
            (
                d
                for d in self._dialogs.values()
                if any(choice_id.startswith(prefix) for prefix in d.global_choice_prefixes)
            ),
            None,
        )

    def from_menu_choice(self, choice_id: str) -> Dialog | None:
        if not choice_id.startswith(MENU_PREFIX):
            return None
        dialog = self.get(choice_id.removeprefix(MENU_PREFIX))
        return dialog if dialog is not None and dialog.menu_key is not None else None


def default_registry() -> DialogRegistry:
    from bot.dialogs.distribution_check import DistributionCheckDialog
    from bot.dialogs.faq import FaqDialog
    from bot.dialogs.language import LanguageDialog
    from bot.dialogs.menu import MenuDialog
    from bot.dialogs.my_trainings import MyTrainingsDialog
    from bot.dialogs.news import NewsDialog
    from bot.dialogs.privacy import PrivacyDialog
    from bot.dialogs.report import ReportDialog
    from bot.dialogs.scam import ScamDialog
    from bot.dialogs.schedule import ScheduleDialog
    from bot.dialogs.status import StatusDialog
    from bot.dialogs.track import TrackDialog
    from bot.dialogs.training import TrainingDialog
    from bot.dialogs.welcome import WelcomeDialog

    return DialogRegistry(
        [
            WelcomeDialog(),
            MenuDialog(),
            StatusDialog(),
            ReportDialog(),
            TrackDialog(),
            TrainingDialog(),
            MyTrainingsDialog(),
            ScheduleDialog(),
            NewsDialog(),
            DistributionCheckDialog(),
            FaqDialog(),
            ScamDialog(),
            PrivacyDialog(),
            LanguageDialog(),
        ]
    )
