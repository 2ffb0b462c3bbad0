"""SQLModel tables. Portable across SQLite and PostgreSQL (DESIGN.md rule 7).

Personal identifiers (NIK, No. KK) are never stored in the clear: a keyed hash serves
look-ups and an encrypted copy serves authorised officers. The keys live in the settings,
not in the database, so a dump alone reveals no NIK.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Village(SQLModel, table=True):
    """A desa or kelurahan of the kecamatan; `code` is the 10-digit Kemendagri code."""

    code: str = Field(primary_key=True, max_length=13)
    name: str = Field(max_length=120, index=True)
    kecamatan: str = Field(max_length=120)
    created_at: datetime = _created()


class Resident(SQLModel, table=True):
    """A person who talks to the bot, on one channel or several."""

    id: int | None = Field(default=None, primary_key=True)
    display_name: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=16)
    consent_version: str | None = Field(default=None, max_length=32)
    consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consent_declined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A NIK the resident verified (NIK + name matched) and asked us to remember.
    saved_nik_hash: str | None = Field(default=None, max_length=64, index=True)
    saved_nik_encrypted: str | None = Field(default=None, sa_column=Column(Text))
    saved_nik_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created()


class ChannelIdentity(SQLModel, table=True):
    """How a resident reaches us: (channel, platform id) is unique."""

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_channel_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    phone: str | None = Field(default=None, max_length=32)
    last_inbound_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when the platform says we can no longer reach this chat (blocked the bot).
    unreachable_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set by STOP/BERHENTI: no broadcast reaches this chat until MULAI clears it.
    broadcasts_stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created()


class Conversation(SQLModel, table=True):
    """The dialog state of one channel identity; the only place conversation state lives."""

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="channel_identity.id", unique=True)
    dialog: str = Field(max_length=32)
    step: str = Field(max_length=48)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    offered_choices: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    locale: str = Field(max_length=16)
    last_activity_at: datetime = _created()
    step_count: int = Field(default=0)
    created_at: datetime = _created()
    # An officer talking to the resident by hand: the bot stays silent until handed back.
    taken_over_by: int | None = Field(default=None, foreign_key="officer.id")
    taken_over_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MessageLog(SQLModel, table=True):
    """Every message in and out, for review and for the accountability figures."""

    __tablename__ = "message_log"

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="channel_identity.id", index=True)
    channel: str = Field(max_length=16)
    direction: str = Field(max_length=3)  # "in" | "out"
    kind: str = Field(max_length=16)  # text, choice, media, location, contact, reply
    text: str | None = Field(default=None, sa_column=Column(Text))
    message_key: str | None = Field(default=None, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    inbound_event_id: int | None = Field(default=None, foreign_key="inbound_event.id")
    # For a reply a push channel delivers: its outbox row, and the platform's last word on
    # it (sent, delivered, read, failed), so officers see delivery ticks.
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id", index=True)
    delivery: str = Field(default="", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class InboundEvent(SQLModel, table=True):
    """A platform update, stored before it is acknowledged; unique per channel."""

    __tablename__ = "inbound_event"
    __table_args__ = (UniqueConstraint("channel", "platform_id", name="uq_inbound_event"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    platform_id: str = Field(max_length=128)
    status: str = Field(default="received", max_length=16, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = Field(default=0)
    error: str | None = Field(default=None, max_length=500)
    received_at: datetime = _created()
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Household(SQLModel, table=True):
    """A family (Kartu Keluarga). The No. KK is kept as keyed hash + ciphertext only."""

    id: int | None = Field(default=None, primary_key=True)
    kk_hash: str = Field(max_length=64, unique=True)
    kk_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    village_code: str = Field(foreign_key="village.code", index=True)
    address: str = Field(default="", max_length=300)
    rt: str = Field(default="", max_length=3)
    rw: str = Field(default="", max_length=3)


class RegistryPerson(SQLModel, table=True):
    """A person in the aid register (DTSEN extract). NIK as keyed hash + ciphertext only."""

    __tablename__ = "registry_person"

    id: int | None = Field(default=None, primary_key=True)
    nik_hash: str = Field(max_length=64, unique=True)
    nik_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    full_name: str = Field(max_length=200)
    birth_date: date
    sex: str = Field(max_length=1)  # L | P
    household_id: int | None = Field(default=None, foreign_key="household.id", index=True)
    village_code: str = Field(foreign_key="village.code", index=True)
    address: str = Field(default="", max_length=300)
    rt: str = Field(default="", max_length=3)
    rw: str = Field(default="", max_length=3)
    updated_at: datetime = _created()


class Enrolment(SQLModel, table=True):
    """A person's place in one programme (PKH, BPNT, BLT, PBI-JK, PIP)."""

    __table_args__ = (UniqueConstraint("person_id", "programme", name="uq_enrolment"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="registry_person.id", index=True)
    programme: str = Field(max_length=8)
    status: str = Field(max_length=16)  # aktif | verifikasi | nonaktif | ditolak
    period: str = Field(default="", max_length=40)
    # Which import wrote this row last, and from which line: finds duplicates in one file.
    import_run_id: int | None = Field(default=None, foreign_key="import_run.id")
    import_line: int | None = None
    updated_at: datetime = _created()


class ImportRun(SQLModel, table=True):
    """One `bansos registry import`: what was read, what was kept, what was refused."""

    __tablename__ = "import_run"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=300)
    started_at: datetime = _created()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rows_read: int = 0
    rows_failed: int = 0
    people_created: int = 0
    people_updated: int = 0
    enrolments_created: int = 0
    enrolments_updated: int = 0


class AuditLog(SQLModel, table=True):
    """Who did what to personal data, and with what outcome (UU PDP accountability).

    `subject_hash` is the keyed hash of a NIK, never the NIK. Rate limits on status
    look-ups are counted from these rows, so they hold across app instances.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_action_at", "actor", "action", "created_at"),
        Index("ix_audit_log_subject_action_at", "subject_hash", "action", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor: str = Field(max_length=64)  # "identity:12", "officer:3", "cli"
    action: str = Field(max_length=48)  # "status.lookup", "registry.import", ...
    outcome: str = Field(max_length=24)
    subject_hash: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Training(SQLModel, table=True):
    """A skills training offered to residents."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(max_length=32)
    organiser: str = Field(max_length=200)
    organiser_kind: str = Field(max_length=16)  # dinas | lsm | csr
    target_group: str = Field(default="", max_length=120)
    min_age: int | None = None
    max_age: int | None = None
    village_code: str | None = Field(default=None, foreign_key="village.code")
    priority_recipients: bool = False
    # The training's own questions, asked one by one at registration.
    questions: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _created()


class TrainingSession(SQLModel, table=True):
    """One dated session of a training, with its own seats and deadline."""

    __tablename__ = "training_session"

    id: int | None = Field(default=None, primary_key=True)
    training_id: int = Field(foreign_key="training.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    place: str = Field(max_length=200)
    village_code: str = Field(foreign_key="village.code")
    seats: int
    registration_deadline: datetime = Field(sa_type=UTCDateTime)


class DistributionSchedule(SQLModel, table=True):
    """When and where aid is handed out (penyaluran)."""

    __tablename__ = "distribution_schedule"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    programme: str = Field(max_length=8)
    phase: str = Field(max_length=40)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    place: str = Field(max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    bring: str = Field(default="", max_length=300)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = _created()


class ScheduleVillage(SQLModel, table=True):
    """A village (optionally narrowed to RTs) that a schedule serves."""

    __tablename__ = "schedule_village"

    schedule_id: int = Field(foreign_key="distribution_schedule.id", primary_key=True)
    village_code: str = Field(foreign_key="village.code", primary_key=True)
    rts: str = Field(default="", max_length=200)  # "" = every RT; else "001,002"


class Officer(SQLModel, table=True):
    """A kecamatan or desa officer. Login and API tokens come with the dashboard."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(default="", max_length=120)
    role: str = Field(max_length=16)  # admin | officer | viewer
    active: bool = True
    password_hash: str | None = Field(default=None, max_length=200)  # argon2id
    telegram_user_id: str | None = Field(default=None, max_length=32, unique=True)
    link_code_hash: str | None = Field(default=None, max_length=64)
    link_code_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created()


class OfficerVillage(SQLModel, table=True):
    """The villages an officer (role "officer") may see."""

    __tablename__ = "officer_village"

    officer_id: int = Field(foreign_key="officer.id", primary_key=True)
    village_code: str = Field(foreign_key="village.code", primary_key=True)


class Report(SQLModel, table=True):
    """A resident's report of an irregularity, a proposal (usul) or an objection (sanggah).

    An anonymous report keeps no resident and no identity: its code is its only key.
    """

    __table_args__ = (
        Index("ix_report_status_village", "status", "village_code"),
        Index("ix_report_resident_created", "resident_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True)
    kind: str = Field(max_length=16)
    programme: str = Field(default="", max_length=8)
    village_code: str | None = Field(default=None, foreign_key="village.code")
    latitude: float | None = None
    longitude: float | None = None
    happened: str = Field(default="", max_length=80)
    subject: str = Field(default="", max_length=300)  # who (sanggah, usul, misconduct)
    description: str = Field(sa_column=Column(Text, nullable=False))
    identity_mode: str = Field(max_length=16)  # named | confidential | anonymous
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    identity_id: int | None = Field(default=None, foreign_key="channel_identity.id")
    locale: str = Field(default="id", max_length=16)
    status: str = Field(default="baru", max_length=16, index=True)
    status_reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    assignee_id: int | None = Field(default=None, foreign_key="officer.id")
    accused_officer_id: int | None = Field(default=None, foreign_key="officer.id")
    merged_into_id: int | None = Field(default=None, foreign_key="report.id")
    created_at: datetime = _created()
    updated_at: datetime = _created()
    verify_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    follow_up_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_officer_reply_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_resident_reply_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rating: int | None = None
    rating_comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    check_back_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_back_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReportEvent(SQLModel, table=True):
    """One entry of a report's timeline. `public_message` reaches the resident;
    `internal_note` never does."""

    __tablename__ = "report_event"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    at: datetime = _created()
    kind: str = Field(max_length=24)  # filed, status, assigned, note, reply, resident, ...
    actor: str = Field(max_length=64)  # "officer:3", "resident", "system"
    status_from: str = Field(default="", max_length=16)
    status_to: str = Field(default="", max_length=16)
    public_message: str = Field(default="", sa_column=Column(Text, nullable=False))
    internal_note: str = Field(default="", sa_column=Column(Text, nullable=False))


class ReportEvidence(SQLModel, table=True):
    """A file attached to a report, stored once by content hash."""

    __tablename__ = "report_evidence"
    __table_args__ = (UniqueConstraint("report_id", "sha256", name="uq_report_evidence"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    sha256: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # photo | document | voice | audio | video
    mime_type: str = Field(max_length=100)
    size: int
    filename: str = Field(default="", max_length=200)
    received_at: datetime = Field(sa_type=UTCDateTime)


class Subscription(SQLModel, table=True):
    """A chat that wants distribution news for a village and a programme."""

    __tablename__ = "subscription"
    __table_args__ = (
        UniqueConstraint("identity_id", "village_code", "programme", name="uq_subscription"),
        Index("ix_subscription_village_programme", "village_code", "programme"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="channel_identity.id", index=True)
    village_code: str = Field(foreign_key="village.code", max_length=13)
    programme: str = Field(max_length=8)
    created_at: datetime = _created()


class Broadcast(SQLModel, table=True):
    """A message from the office to every subscriber of some villages and programmes.

    Its recipients become outbox rows when it starts, one per chat (unique on broadcast and
    identity), so nobody gets it twice and a crash loses nobody.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # free | schedule | reminder | check
    # One broadcast per key at most ("check:<schedule>"), whichever instance makes it.
    key: str | None = Field(default=None, max_length=64, unique=True)
    schedule_id: int | None = Field(default=None, foreign_key="distribution_schedule.id")
    texts: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The catalog key that wraps the text ({body}) and the buttons each message carries.
    message_key: str = Field(default="broadcast.message", max_length=64)
    choices: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    villages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    programmes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    send_at: datetime = Field(sa_type=UTCDateTime)
    # scheduled | sending | paused | cancelled | done
    status: str = Field(default="scheduled", max_length=16, index=True)
    recipients: int = 0
    created_by: int | None = Field(default=None, foreign_key="officer.id")
    created_at: datetime = _created()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DistributionAnswer(SQLModel, table=True):
    """A subscriber's answer to "sudah terima?" after a distribution: one per chat."""

    __tablename__ = "distribution_answer"
    __table_args__ = (
        UniqueConstraint("schedule_id", "identity_id", name="uq_distribution_answer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="distribution_schedule.id", index=True)
    identity_id: int = Field(foreign_key="channel_identity.id")
    # complete | deducted | not_received | did_not_know
    answer: str = Field(max_length=16)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    created_at: datetime = _created()


class Outbox(SQLModel, table=True):
    """A message to a resident, stored before any channel sends it (DESIGN.md rule 3)."""

    __table_args__ = (
        Index("ix_outbox_status_channel", "status", "channel"),
        Index("ix_outbox_claim", "channel", "status", "broadcast_id", "id"),
        UniqueConstraint("broadcast_id", "identity_id", name="uq_outbox_broadcast_recipient"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identity_id: int = Field(foreign_key="channel_identity.id", index=True)
    channel: str = Field(max_length=16)
    locale: str = Field(max_length=16)
    message_key: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    choices: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    ask_contact: bool = False  # show the platform's share-contact button with this message
    # The platform message this one may replace (a menu changing step): edit, not send.
    replaces_message_id: str | None = Field(default=None, max_length=64)
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    # pending | sending | sent | delivered | read | failed | skipped
    status: str = Field(default="pending", max_length=16)
    reason: str = Field(default="", max_length=300)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created()
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The platform's id for what was sent (WhatsApp's wamid), which status webhooks name.
    platform_message_id: str | None = Field(default=None, max_length=128, index=True)
    sent_as: str = Field(default="", max_length=16)  # "" | free | template
    # A reply sent as several platform messages: how many went out, so a retry goes on.
    parts_sent: int = 0
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    broadcast_id: int | None = Field(default=None, foreign_key="broadcast.id")
    # The sender instance that claimed the row ("sending"): a row claimed by another,
    # no longer leading instance was interrupted and is reconciled or sent again.
    claimed_by: str | None = Field(default=None, max_length=32)


class TrainingRegistration(SQLModel, table=True):
    """A seat (or a place on the waitlist) in one training session, one per NIK."""

    __tablename__ = "training_registration"
    __table_args__ = (
        UniqueConstraint("session_id", "nik_hash", name="uq_training_registration"),
        Index("ix_training_registration_session_status", "session_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True)
    session_id: int = Field(foreign_key="training_session.id")
    nik_hash: str = Field(max_length=64)
    nik_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    full_name: str = Field(max_length=200)
    phone: str = Field(max_length=20)
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    identity_id: int | None = Field(default=None, foreign_key="channel_identity.id")
    locale: str = Field(default="id", max_length=16)
    # confirmed | waitlisted | offered | cancelled | expired
    status: str = Field(max_length=16)
    priority: bool = False  # a registered aid recipient, where the training gives priority
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    offered_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attended: bool | None = None
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ScheduledJob(SQLModel, table=True):
    """Work due at a time (reminders, offer expiry): rows, so they survive a restart."""

    __tablename__ = "scheduled_job"
    __table_args__ = (Index("ix_scheduled_job_status_run_at", "status", "run_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    kind: str = Field(max_length=32)
    run_at: datetime = Field(sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | done | cancelled
    attempts: int = 0
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OfficerPost(SQLModel, table=True):
    """A report posted to the officers' Telegram group, and the message that shows it."""

    __tablename__ = "officer_post"

    report_id: int = Field(foreign_key="report.id", primary_key=True)
    chat_id: str = Field(max_length=32)
    message_id: int
    # Set while an officer has pressed "Tolak" and the group owes a reason.
    rejecting_officer_id: int | None = Field(default=None, foreign_key="officer.id")
    prompt_message_id: int | None = None
    posted_at: datetime = _created()


class OfficerSession(SQLModel, table=True):
    """A dashboard login. Only the SHA-256 of the cookie's token is stored; logout and
    timeouts end it on the server, whatever the browser still holds."""

    __tablename__ = "officer_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)
    ip: str = Field(default="", max_length=64)
    created_at: datetime = _created()
    last_seen_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A Bearer token for `/api/v1` (`bansos officer token`); stored as its SHA-256 only."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)
    created_at: datetime = _created()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
