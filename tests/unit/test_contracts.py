"""Message contracts: the envelope round-trips every registered payload; anything else is an UnknownMessage;
nothing routed to the scheduler can carry a phone number, and the notifier's contact message only ciphertext."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from shared.contracts import (
    BookingAttended,
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingMoveRefused,
    BookingMoveRequested,
    BookingNoShow,
    BookingRejected,
    BookingRequested,
    BookingRescheduled,
    ClientErasureRequested,
    ContactRegistered,
    CounsellorRequested,
    FeedRequested,
    Meeting,
    Mode,
    Payload,
    PublicLocation,
    QueryError,
    Slot,
    SlotsOffered,
    SlotsRequested,
    StaffAnswered,
    StaffRequested,
    Topic,
    UnknownMessage,
    WrongPayload,
    parse,
    wrap,
)
from shared.contracts.contact_numbers import (
    ContactNumberAnswered,
    ContactNumberRequested,
    reply_key_context,
    reveal_context,
)
from shared.contracts.contacts import (
    ContactPreferences,
    ContactPreferencesChanged,
    SafeWindow,
    manage_token_context,
    phone_context,
)
from shared.contracts.deliveries import ContactUnreachable, DeliveryStatusReported, SmsReceived, inbound_phone_context
from shared.contracts.delivery_reports import (
    AccountBanner,
    DayCounts,
    DeliveriesReported,
    DeliveriesReportRequested,
    DeliveryRetried,
    DeliveryRetryRequested,
    ErrorCount,
    ErrorExplained,
    FailedDeliveriesListed,
    FailedDeliveriesRequested,
    FailedDelivery,
)
from shared.contracts.envelope import _REGISTRY, register
from shared.contracts.health import RoleHeartbeat
from shared.contracts.previews import SmsPreview, SmsPreviewed, SmsPreviewRequested
from shared.contracts.sms import OfferedTime, SmsReplyRequested, conversation_context
from shared.contracts.staff import Actor, MoveAction, RefusalKind, StaffRefusal
from shared.crypto import (
    DataCipher,
    DecryptionError,
    OpeningKey,
    SealingKey,
    generate_box_key,
    generate_data_key,
    new_token,
)
from shared.messaging import SUBSCRIPTIONS

PHONE = "+4915112345678"
BOOKING = UUID("5b0c2d7e-8f11-4a7b-9c3d-2e4f6a8b0c1d")
OCCURRED = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
CIPHER = DataCipher.from_text(generate_data_key("k1"))
REPLY_KEY = generate_box_key("r1")  # (private, public): the gateway's one-time key of a number question


def a_slot(hour: int = 9) -> Slot:
    start = datetime(2026, 6, 1, hour, 0, tzinfo=UTC)
    return Slot(
        slot_id=f"s2-1-2-3-{int(start.timestamp()) // 60}",
        start=start,
        end=start + timedelta(minutes=60),
        location=PublicLocation(location_id=2, town="Rostock", kind=Mode.office, alias="Rostock 1"),
        mode=Mode.office,
        counsellor="Anna",
    )


def examples() -> list[Payload]:
    """One payload per registered model, with every optional field filled in."""
    return [
        ClientErasureRequested(booking_id=BOOKING),
        BookingRequested(booking_id=BOOKING, slot_id=a_slot().slot_id, topic=Topic.health, language="ro",
                         channel="sms"),
        BookingConfirmed(booking_id=BOOKING, slot=a_slot(), language="de", reminder_offsets_minutes=(2880, 60)),
        BookingRejected(booking_id=BOOKING, reason="slot_taken", alternatives=[a_slot(10), a_slot(11)]),
        BookingCancellationRequested(booking_id=BOOKING, by="staff", reason="Beraterin krank"),
        BookingCancelled(booking_id=BOOKING, by="staff", starts_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
                         reason="Beraterin krank"),
        BookingRescheduled(booking_id=BOOKING, previous=a_slot(9), slot=a_slot(10), language="en", by="staff",
                           reason="moved", reminder_offsets_minutes=(1440,)),
        BookingRescheduled(booking_id=BOOKING, previous=a_slot(9), slot=a_slot(10), language="th", by="client",
                           meeting=Meeting(mode=Mode.video, video_url="https://meet.example.org/abc"),
                           move_id=UUID("00000000-0000-4000-8000-000000000002")),
        BookingMoveRequested(booking_id=BOOKING, move_id=UUID("00000000-0000-4000-8000-000000000002"),
                             slot_id=a_slot(10).slot_id),
        BookingMoveRefused(booking_id=BOOKING, move_id=UUID("00000000-0000-4000-8000-000000000002"),
                           reason="not_confirmed"),
        BookingNoShow(booking_id=BOOKING, starts_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC), reason="no answer"),
        BookingAttended(booking_id=BOOKING, starts_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC)),
        ContactRegistered(
            booking_id=BOOKING,
            phone=CIPHER.encrypt(PHONE, phone_context(BOOKING)),
            manage_token=CIPHER.encrypt(new_token(), manage_token_context(BOOKING)),
            language="bg",
            preferences=ContactPreferences(reminders=True, safe_window=SafeWindow(
                days=("mon", "tue", "wed", "thu", "fri"), start=time(10, 0), end=time(18, 0))),
        ),
        ContactPreferencesChanged(booking_id=BOOKING, preferences=ContactPreferences(reminders=False)),
        DeliveryStatusReported(message_sid="SM" + "a1" * 16, status="undelivered", error_code="30005",
                               delivery_ref="d" * 22, reported_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC)),
        SmsReceived(message_sid="SM" + "b2" * 16, phone=CIPHER.encrypt(PHONE, inbound_phone_context("SM" + "b2" * 16)),
                    keyword="stop", language="ro"),
        ContactUnreachable(booking_id=BOOKING, reason="invalid_number", error_code="21211"),
        SmsReplyRequested(conversation_id=BOOKING, phone=CIPHER.encrypt(PHONE, conversation_context(BOOKING)),
                          kind="offer", language="th", times=(OfferedTime(
                              starts_at=datetime(2026, 6, 2, 8, 0, tzinfo=UTC), place="Rostock 1"),)),
        SmsPreviewRequested(kind="reminder", language="uk", reply_to="gateway.replies.0123456789ab"),
        SmsPreviewed(sender_id="Termin", previews=[SmsPreview(
            kind="reminder", language="uk", rendered_language="uk", body="Нагадування: 15.07 10:30, Rostock 1",
            encoding="UCS-2", segments=1, fell_back=False)]),
        SlotsRequested(topic=Topic.safety, language="hu", location_id=2, mode=Mode.phone, counsellor="Anna",
                       date_from=date(2026, 6, 1), date_to=date(2026, 6, 30), limit=50,
                       reply_to="gateway.replies.0123456789ab"),
        SlotsOffered(slots=[a_slot(9), a_slot(10)]),
        SlotsOffered(slots=[], error=QueryError(code="range_too_long", message="At most 90 days can be searched.")),
        StaffRequested(request_id=BOOKING, actor=Actor(staff_id=7, role="counsellor", counsellor_id=3),
                       action=MoveAction(booking_id=BOOKING, slot_id=a_slot(10).slot_id, reason="Raum 2"),
                       reply_to="gateway.replies.0123456789ab"),
        FeedRequested(request_id=BOOKING, counsellor_id=3, date_from=date(2026, 5, 1), date_to=date(2026, 11, 1),
                      reply_to="gateway.replies.0123456789ab"),
        CounsellorRequested(request_id=BOOKING, counsellor_id=99, reply_to="gateway.replies.0123456789ab"),
        DeliveriesReportRequested(date_from=date(2026, 6, 1), date_to=date(2026, 7, 1),
                                  reply_to="gateway.replies.0123456789ab"),
        DeliveriesReported(
            date_from=date(2026, 6, 1), date_to=date(2026, 6, 2), timezone="Europe/Berlin", total=3,
            by_status={"queued": 0, "sending": 0, "sent": 0, "delivered": 2, "undelivered": 1, "failed": 0},
            by_language={"ro": 3}, by_error=[ErrorCount(error=ErrorExplained(
                code="30003", reason="The phone could not be reached.", action="Call the client.", retryable=False),
                count=1)], delivery_rate=0.6667, median_seconds_to_delivered=4.5,
            daily=[DayCounts(day=date(2026, 6, 1), counts={"delivered": 2, "undelivered": 1})],
            banner=AccountBanner(kinds=["sender"], codes=["21606"], count=1,
                                 last_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC), message="Fix the sender.")),
        FailedDeliveriesRequested(date_from=date(2026, 6, 1), date_to=date(2026, 6, 2), limit=20,
                                  cursor="2026-06-01T09:00:00+00:00~17", reply_to="gateway.replies.0123456789ab"),
        FailedDeliveriesListed(items=[FailedDelivery(
            id=17, created_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC), status="failed", kind="reminder", language="ro",
            to_masked="+40721•••••123", error=ErrorExplained(code="30008", reason="Unknown error.",
                                                              action="Send it again.", retryable=True),
            retried_at=None, retry_refused=None)], next_cursor="2026-06-01T09:00:00+00:00~17"),
        DeliveryRetryRequested(delivery_id=17, reply_to="gateway.replies.0123456789ab"),
        DeliveryRetried(delivery_id=17, refused="too_late", message="The time for this text has passed."),
        StaffAnswered(request_id=BOOKING, message="That time is no longer free; choose another slot.",
                      refusal=StaffRefusal(kind=RefusalKind.CONFLICT, code="slot_taken", alternatives=[a_slot(11)])),
        ContactNumberRequested(request_id=BOOKING, booking_id=BOOKING, reply_to="gateway.replies.0123456789ab",
                               reply_key=CIPHER.encrypt(REPLY_KEY[1], reply_key_context(BOOKING, BOOKING))),
        ContactNumberAnswered(request_id=BOOKING, booking_id=BOOKING,
                              phone=SealingKey(REPLY_KEY[1]).seal(PHONE, reveal_context(BOOKING, BOOKING))),
        RoleHeartbeat(role="notifier", instance="0123456789ab", interval_seconds=30, outbox_backlog=2,
                      oldest_unsent_seconds=1.5, dispatcher_lag_seconds=0.0, last_beat_tick_at=OCCURRED),
    ]


EXAMPLES = {type(p): p for p in examples()}


def wire_of(payload: Payload) -> dict[str, Any]:
    return wrap(payload, uuid4(), OCCURRED).to_wire()


def a_wire() -> dict[str, Any]:
    return wire_of(EXAMPLES[BookingRequested])


def over_the_wire(wire: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(wire))


# --- round trip ------------------------------------------------------------------------------------------------


def test_every_registered_message_type_has_an_example_here() -> None:
    assert set(EXAMPLES) == set(_REGISTRY.values())


@pytest.mark.parametrize("payload", examples(), ids=lambda p: f"{p.message_type}-v{p.message_version}")
def test_envelope_round_trips_through_json_for_every_registered_payload(payload: Payload) -> None:
    envelope = wrap(payload, "corr-1", OCCURRED)

    parsed = parse(over_the_wire(envelope.to_wire()))

    assert parsed == envelope
    assert type(parsed.payload) is type(payload)
    assert parsed.payload == payload
    assert (parsed.type, parsed.version) == (payload.message_type, payload.message_version)
    assert parsed.correlation_id == "corr-1"
    assert parsed.occurred_at == OCCURRED


@pytest.mark.parametrize("payload", examples(), ids=lambda p: p.message_type)
def test_wire_payload_carries_every_field_of_the_model(payload: Payload) -> None:
    wire = wire_of(payload)

    assert set(wire["payload"]) == set(type(payload).model_fields)
    assert set(wire) == {"message_id", "type", "version", "occurred_at", "correlation_id", "payload"}


def test_wrap_stamps_type_version_utc_time_and_correlation_id() -> None:
    payload = EXAMPLES[BookingCancellationRequested]
    local = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    correlation = uuid4()

    envelope = wrap(payload, correlation, local)

    assert envelope.type == "booking.cancellation_requested"
    assert envelope.version == 1
    assert envelope.occurred_at == local
    assert envelope.occurred_at.utcoffset() == timedelta(0)
    assert envelope.correlation_id == str(correlation)


def test_wrap_without_a_time_uses_now_in_utc() -> None:
    before = datetime.now(UTC)
    envelope = wrap(EXAMPLES[BookingCancellationRequested], "c")
    after = datetime.now(UTC)

    assert before <= envelope.occurred_at <= after
    assert envelope.occurred_at.utcoffset() == timedelta(0)


def test_each_wrapped_message_gets_its_own_id() -> None:
    payload = EXAMPLES[BookingCancellationRequested]

    assert wrap(payload, "c").message_id != wrap(payload, "c").message_id


def test_a_handler_gets_the_payload_as_the_model_it_was_written_for() -> None:
    envelope = wrap(EXAMPLES[BookingCancellationRequested], "c")

    assert envelope.payload_as(BookingCancellationRequested) is envelope.payload


def test_a_payload_of_another_model_is_refused_by_name_and_not_handled() -> None:
    envelope = wrap(EXAMPLES[BookingCancellationRequested], "c")

    with pytest.raises(WrongPayload, match=r"booking\.cancellation_requested v1 carries "
                                           r"BookingCancellationRequested, not BookingRequested"):
        envelope.payload_as(BookingRequested)


def test_registering_a_second_model_for_the_same_type_and_version_fails() -> None:
    class Duplicate(Payload):
        message_type = "booking.requested"
        message_version = 1

    with pytest.raises(RuntimeError, match=r"booking\.requested"):
        register(Duplicate)
    assert _REGISTRY[("booking.requested", 1)] is BookingRequested


# --- what parse refuses ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"type": "booking.exploded"},
        {"type": "booking.requested.v2"},
        {"version": 2},
        {"version": 0},
        {"version": "1"},
        {"type": None},
        {"version": None},
    ],
    ids=["unknown-type", "similar-type", "unknown-version", "version-0", "version-as-text", "no-type", "no-version"],
)
def test_unknown_type_or_version_is_an_unknown_message(change: dict[str, Any]) -> None:
    with pytest.raises(UnknownMessage):
        parse(a_wire() | change)


@pytest.mark.parametrize("change", [{"type": ["booking.requested"]}, {"version": {"major": 1}}, {"type": {}}],
                         ids=["type-list", "version-object", "type-object"])
def test_type_or_version_of_the_wrong_json_kind_is_an_unknown_message(change: dict[str, Any]) -> None:
    # JSON arrays and objects arrive as lists and dicts: a consumer dead-letters on UnknownMessage only.
    with pytest.raises(UnknownMessage):
        parse(a_wire() | change)


@pytest.mark.parametrize("raw", [None, [], "booking.requested", 42, b"{}"], ids=repr)
def test_anything_but_a_json_object_is_an_unknown_message(raw: Any) -> None:
    with pytest.raises(UnknownMessage):
        parse(raw)


@pytest.mark.parametrize("field", ["booking_id", "slot_id", "language", "channel"])
def test_payload_missing_a_required_field_is_an_unknown_message_naming_it(field: str) -> None:
    wire = a_wire()
    del wire["payload"][field]

    with pytest.raises(UnknownMessage, match=field):
        parse(wire)


@pytest.mark.parametrize("field", ["type", "version", "occurred_at", "correlation_id", "payload"])
def test_envelope_missing_a_field_is_an_unknown_message(field: str) -> None:
    wire = a_wire()
    del wire[field]

    with pytest.raises(UnknownMessage):
        parse(wire)


def test_message_without_an_id_is_refused_since_its_redelivery_could_not_be_recognised() -> None:
    # Consumers remember message_id to skip redeliveries; an id invented while parsing differs on every delivery.
    wire = a_wire()
    del wire["message_id"]

    with pytest.raises(UnknownMessage, match="message_id"):
        parse(wire)


def test_extra_payload_field_is_an_unknown_message() -> None:
    wire = a_wire()
    wire["payload"]["note"] = "hello"

    with pytest.raises(UnknownMessage, match="note"):
        parse(wire)


def test_extra_envelope_field_is_an_unknown_message() -> None:
    with pytest.raises(UnknownMessage):
        parse(a_wire() | {"reply_to": "somewhere"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("booking_id", "not-a-uuid"),
        ("slot_id", "s1-1-2-29579520"),  # the old form, no longer issued
        ("slot_id", "s2-1-2-29579520"),
        ("language", "xx"),
        ("channel", "email"),
        ("topic", "astrology"),
    ],
)
def test_payload_field_with_a_wrong_value_is_an_unknown_message(field: str, value: str) -> None:
    wire = a_wire()
    wire["payload"][field] = value

    with pytest.raises(UnknownMessage):
        parse(wire)


def test_payload_that_is_not_an_object_is_an_unknown_message() -> None:
    with pytest.raises(UnknownMessage):
        parse(a_wire() | {"payload": "booking"})


def test_occurred_at_without_a_time_zone_is_an_unknown_message() -> None:
    with pytest.raises(UnknownMessage):
        parse(a_wire() | {"occurred_at": "2026-03-29T01:30:00"})


def test_unknown_message_error_never_repeats_a_value_from_the_message() -> None:
    wire = a_wire()
    wire["payload"]["phone"] = PHONE
    wire["payload"]["language"] = "0151 12345678"

    with pytest.raises(UnknownMessage) as caught:
        parse(wire)

    assert PHONE not in str(caught.value)
    assert "12345678" not in str(caught.value)


def test_parse_does_not_change_the_raw_message() -> None:
    wire = a_wire()
    kept = copy.deepcopy(wire)

    parse(wire)

    assert wire == kept


# --- the scheduler never receives a phone number ---------------------------------------------------------------

PHONE_WORDS = {"phone", "telephone", "tel", "mobile", "msisdn", "e164", "number", "contact", "recipient", "sms"}


def scheduler_bound_models() -> list[type[Payload]]:
    types = {t for subscription in SUBSCRIPTIONS["scheduler"] for t in subscription.message_types}
    assert {"booking.requested", "booking.cancellation_requested", "slots.requested"} <= types
    return [model for (message_type, _), model in sorted(_REGISTRY.items()) if message_type in types]


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of a model and of the models nested in it."""
    names = set()
    for name, field in model.model_fields.items():
        names.add(name)
        for candidate in (field.annotation, *get_args(field.annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names |= field_names(candidate)
    return names


def admits_free_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    return any(admits_free_text(arg) for arg in get_args(annotation))


@pytest.mark.parametrize("model", scheduler_bound_models(), ids=lambda m: m.message_type)
def test_no_message_routed_to_the_scheduler_has_a_field_that_could_hold_a_phone_number(
    model: type[Payload],
) -> None:
    suspicious = {name for name in field_names(model) if PHONE_WORDS & set(name.lower().split("_"))}

    assert suspicious == set()


@pytest.mark.parametrize("model", scheduler_bound_models(), ids=lambda m: m.message_type)
@pytest.mark.parametrize("name", ["phone", "phone_number", "to"])
def test_message_routed_to_the_scheduler_refuses_an_extra_phone_field(model: type[Payload], name: str) -> None:
    wire = wire_of(EXAMPLES[model])
    wire["payload"][name] = PHONE

    with pytest.raises(ValidationError):
        model.model_validate(wire["payload"])
    with pytest.raises(UnknownMessage):
        parse(wire)


def test_every_text_field_routed_to_the_scheduler_refuses_a_phone_number() -> None:
    accepted = []
    for model in scheduler_bound_models():
        for name, field in model.model_fields.items():
            if not admits_free_text(field.annotation):
                continue
            payload = wire_of(EXAMPLES[model])["payload"] | {name: PHONE}
            try:
                model.model_validate(payload)
            except ValidationError:
                continue
            accepted.append(f"{model.message_type}.{name}")

    assert accepted == []


# --- the notifier's contact message carries ciphertext only ----------------------------------------------------


@pytest.mark.parametrize("clear", [PHONE, "015112345678", "0151 12345678", "4915112345678", "v1.k1." + PHONE])
@pytest.mark.parametrize("field", ["phone", "manage_token"])
def test_contact_registered_refuses_a_clear_value_where_ciphertext_belongs(clear: str, field: str) -> None:
    wire = wire_of(EXAMPLES[ContactRegistered])
    wire["payload"][field] = clear

    with pytest.raises(ValidationError):
        ContactRegistered.model_validate(wire["payload"])
    with pytest.raises(UnknownMessage):
        parse(wire)


def test_contact_registered_ciphertext_opens_with_the_booking_context() -> None:
    contact = parse(over_the_wire(wire_of(EXAMPLES[ContactRegistered]))).payload

    assert isinstance(contact, ContactRegistered)
    assert CIPHER.decrypt(contact.phone, phone_context(contact.booking_id)) == PHONE


def test_contact_registered_on_the_wire_contains_no_phone_number() -> None:
    text = json.dumps(wire_of(EXAMPLES[ContactRegistered]))

    assert PHONE not in text
    assert PHONE[3:] not in text  # not even the national part


# --- contracts that grew: a message written before the deploy is still read ------------------------------------


def test_a_v1_contact_registered_still_in_a_queue_is_read_with_reminders_on_and_no_window() -> None:
    wire = wire_of(EXAMPLES[ContactRegistered])
    wire["version"] = 1
    del wire["payload"]["preferences"]

    envelope = parse(over_the_wire(wire))

    assert envelope.version == 2
    assert isinstance(envelope.payload, ContactRegistered)
    assert envelope.payload.preferences == ContactPreferences(reminders=True, safe_window=None)


@pytest.mark.parametrize("model", [BookingConfirmed, BookingRescheduled])
def test_a_v1_booking_message_is_read_with_the_default_reminder_policy(model: type[Payload]) -> None:
    wire = wire_of(EXAMPLES[model])
    wire["version"] = 1
    del wire["payload"]["reminder_offsets_minutes"]

    envelope = parse(over_the_wire(wire))

    assert envelope.version == 2
    assert envelope.payload.reminder_offsets_minutes == (1440, 120)  # type: ignore[attr-defined]


def test_a_v1_message_with_a_v2_field_is_still_refused() -> None:
    # The upgrade fills defaults; it does not make v1 accept fields v1 never had (that would hide a producer bug).
    wire = wire_of(EXAMPLES[ContactRegistered])
    wire["version"] = 1
    wire["payload"]["colour"] = "red"

    with pytest.raises(UnknownMessage):
        parse(wire)


@pytest.mark.parametrize(
    "window",
    [
        {"days": [], "start": "10:00", "end": "18:00"},
        {"days": ["mon", "mon"], "start": "10:00", "end": "18:00"},
        {"days": ["mon"], "start": "18:00", "end": "10:00"},
        {"days": ["mon"], "start": "10:00", "end": "10:00"},
        {"days": ["monday"], "start": "10:00", "end": "18:00"},
        {"days": ["mon"], "start": "25:00", "end": "26:00"},
        {"days": ["mon"], "start": "10:00+02:00", "end": "18:00+02:00"},
    ],
)
def test_a_safe_window_that_makes_no_sense_is_refused(window: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SafeWindow.model_validate(window)


@pytest.mark.parametrize("offsets", [(10,), (20161,), (60, 120, 180, 240, 300, 360)])
def test_a_reminder_policy_outside_the_limits_is_refused(offsets: tuple[int, ...]) -> None:
    wire = wire_of(EXAMPLES[BookingConfirmed])
    wire["payload"]["reminder_offsets_minutes"] = list(offsets)

    with pytest.raises(UnknownMessage):
        parse(wire)


# --- a counsellor's look at a client's number (contact.number_requested / contact.number_answered) -----------------


def test_a_revealed_number_crosses_the_broker_sealed_to_the_askers_one_time_key_only() -> None:
    answer = EXAMPLES[ContactNumberAnswered]
    wire = json.dumps(wire_of(answer))
    read = parse(json.loads(wire)).payload_as(ContactNumberAnswered)

    assert PHONE not in wire and PHONE[3:] not in wire
    assert read.phone is not None
    assert OpeningKey(REPLY_KEY[0]).open(read.phone, reveal_context(BOOKING, BOOKING)) == PHONE
    with pytest.raises(DecryptionError):  # bound to its question: not readable as another booking's answer
        OpeningKey(REPLY_KEY[0]).open(read.phone, reveal_context(BOOKING, uuid4()))
    with pytest.raises(DecryptionError):  # nor with the data key, which would outlive the question
        CIPHER.decrypt(read.phone, reveal_context(BOOKING, BOOKING))


@pytest.mark.parametrize("fields", [
    {},
    {"refused": "no_contact", "phone": "x1.r1.AAAA.AAAA.AAAA"},
    {"phone": "v1.k1.AAAA.AAAA"},  # under the data key: not what the asker's key opens
    {"phone": "+4915112345678"},
    {"refused": "maybe"},
], ids=["neither", "both", "data-key", "clear", "unknown-reason"])
def test_a_number_answer_is_a_sealed_number_or_a_known_refusal(fields: dict[str, Any]) -> None:
    raw = wire_of(ContactNumberAnswered(request_id=BOOKING, booking_id=BOOKING, refused="no_contact"))
    raw["payload"] = {"request_id": str(BOOKING), "booking_id": str(BOOKING), **fields}
    with pytest.raises(UnknownMessage):
        parse(raw)
