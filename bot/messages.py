"""What flows through the engine: `Incoming` from a channel, `Reply` back to it.

Both are channel-agnostic: a Reply names a catalog key, never a finished string, so each
channel renders it in the resident's language and within its own limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.text import redact_id_numbers
from storage.types import utcnow

Params = Mapping[str, str | int | float]


class Channel(StrEnum):
    CONSOLE = "console"
    WEBCHAT = "webchat"
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"


@dataclass(frozen=True, slots=True)
class Media:
    kind: str  # photo | document | voice | audio | video
    ref: str  # the platform's media id, or a stored file's content hash
    mime_type: str | None = None
    size: int | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None


# Choices a typed number never picks, so lists do not number them: on a question that
# wants a number or a date, "5" is the answer, and going back to the menu would drop the
# draft. Typing "menu" (or the label) still works.
UNNUMBERED_CHOICES = frozenset({"nav:menu"})


@dataclass(frozen=True, slots=True)
class Contact:
    phone: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message from a resident: text, or a choice id, media, a location or a contact."""

    channel: str
    sender_id: str
    text: str | None = None
    choice_id: str | None = None
    media: Media | None = None
    location: Location | None = None
    contact: Contact | None = None
    platform_id: str | None = None
    sender_name: str | None = None
    received_at: datetime = field(default_factory=utcnow)
    # Something the channel cannot pass on (a sticker, a poll): answered politely.
    unsupported: bool = False
    # For a tapped button: the platform message it belongs to (channels that can edit it).
    origin_message_id: str | None = None
    # The sender's phone number, where the platform tells it (WhatsApp's wa_id).
    sender_phone: str | None = None

    @property
    def kind(self) -> str:
        if self.choice_id is not None:
            return "choice"
        if self.media is not None:
            return "media"
        if self.location is not None:
            return "location"
        if self.contact is not None:
            return "contact"
        return "text"

    def as_choice(self, choice_id: str) -> Incoming:
        return Incoming(
            channel=self.channel,
            sender_id=self.sender_id,
            choice_id=choice_id,
            platform_id=self.platform_id,
            sender_name=self.sender_name,
            received_at=self.received_at,
            sender_phone=self.sender_phone,
        )

    def payload(self) -> dict[str, Any]:
        """A JSON-safe description for the message log (never contains raw media bytes)."""
        data: dict[str, Any] = {}
        if self.choice_id is not None:
            # A forged or mistyped id may hold anything, a NIK included.
            data["choice_id"] = redact_id_numbers(self.choice_id)
        if self.media is not None:
            data["media"] = {
                "kind": self.media.kind,
                "ref": self.media.ref,
                "mime_type": self.media.mime_type,
                "size": self.media.size,
            }
        if self.location is not None:
            data["location"] = [self.location.latitude, self.location.longitude]
        if self.contact is not None:
            data["contact"] = True
        return data


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: its id comes back as `Incoming.choice_id`; its label is a catalog key."""

    id: str
    key: str
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    key: str
    params: Params = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    media: Media | None = None
    # Ask for the resident's phone number with the platform's own button where it has one
    # (Telegram's request_contact keyboard); elsewhere the resident types it.
    ask_contact: bool = False


@dataclass(frozen=True, slots=True)
class StepResult:
    """What the engine hands back to a channel: replies in the resident's locale."""

    locale: str
    replies: tuple[Reply, ...]
    duplicate: bool = False
