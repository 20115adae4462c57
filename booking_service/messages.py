"""German sentences the voice agent reads to the caller, one per answer status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from booking_service.german_datetime import spoken

FIELD_LABELS = {
    "datum": "das Datum",
    "uhrzeit": "die Uhrzeit",
    "name": "Ihren Namen",
    "dienstleistung": "die gewünschte Dienstleistung",
    "call_id": "die Anrufkennung",
    "args": "die Angaben zum Termin",
    "telefon": "Ihre Telefonnummer oder E-Mail-Adresse",
    "neues_datum": "das neue Datum",
    "neue_uhrzeit": "die neue Uhrzeit",
    "appointment": "welchen Termin Sie meinen",
}


def _offer(alternatives: Sequence[datetime], zone: str) -> str:
    if not alternatives:
        return " Leider habe ich in den nächsten Tagen keinen freien Termin gefunden."
    options = [spoken(a, zone) for a in alternatives]
    if len(options) == 1:
        return f" Ich kann Ihnen {options[0]} anbieten."
    return f" Ich kann Ihnen {', '.join(options[:-1])} oder {options[-1]} anbieten."


def message(
    status: str,
    *,
    start: datetime | None = None,
    alternatives: Sequence[datetime] = (),
    field: str | None = None,
    services: Sequence[str] = (),
    pending: bool = False,
    zone: str = "Europe/Berlin",
) -> str:
    when = spoken(start, zone) if start else "dem gewünschten Zeitpunkt"
    if status == "booked":
        if pending:
            return f"Ihr Terminwunsch für {when} ist eingegangen und wird noch von der Praxis bestätigt."
        return f"Ihr Termin am {when} ist gebucht. Vielen Dank!"
    if status == "confirmation_required":
        return f"Der Termin am {when} ist frei. Soll ich ihn verbindlich für Sie buchen?"
    if status == "available":
        return f"Der Termin am {when} ist frei."
    if status in ("unavailable", "slot_taken"):
        return f"Der Termin am {when} ist leider nicht frei." + _offer(alternatives, zone)
    if status == "race_condition_detected":
        return f"Der Termin am {when} wurde gerade eben vergeben." + _offer(alternatives, zone)
    if status == "stale_booking_data":
        return (
            "Bei der Buchung ist ein Fehler aufgetreten, der Termin wurde nicht für Sie gebucht."
            + _offer(alternatives, zone)
        )
    if status == "duplicate":
        return "Für diesen Termin gibt es bereits eine Buchung; ich habe keinen zweiten Termin angelegt."
    if status == "missing_required_field":
        return f"Mir fehlt noch eine Angabe: Bitte nennen Sie mir {FIELD_LABELS.get(field or '', 'die fehlende Angabe')}."
    if status == "invalid_date":
        return "Das Datum habe ich leider nicht verstanden. Können Sie es bitte noch einmal sagen?"
    if status == "invalid_time":
        return (
            "Die Uhrzeit habe ich leider nicht verstanden. Können Sie sie bitte noch einmal sagen?"
        )
    if status == "past_date":
        return "Dieser Zeitpunkt liegt in der Vergangenheit. Welcher andere Termin passt Ihnen?"
    if status == "unknown_service":
        offered = ", ".join(services)
        return "Diese Dienstleistung kenne ich leider nicht." + (
            f" Wir bieten an: {offered}." if offered else ""
        )
    if status == "upstream_unavailable":
        return "Unser Buchungssystem ist gerade nicht erreichbar. Bitte versuchen Sie es in ein paar Minuten noch einmal."
    if status == "rate_limited":
        return "Unser Buchungssystem ist gerade stark ausgelastet. Bitte versuchen Sie es gleich noch einmal."
    if status == "timeout":
        return (
            "Das Buchungssystem hat nicht rechtzeitig geantwortet. Ich kann die Buchung gerade nicht "
            "bestätigen; wir melden uns bei Ihnen."
        )
    if status == "circuit_open":
        return "Unser Buchungssystem ist vorübergehend gestört. Bitte versuchen Sie es später noch einmal."
    if status == "cancelled":
        return f"Ihr Termin am {when} ist storniert."
    if status == "already_cancelled":
        return f"Der Termin am {when} war bereits storniert."
    if status == "not_found":
        return "Ich konnte keinen passenden Termin finden."
    if status == "ambiguous":
        return "Ich habe mehrere passende Termine gefunden. Bitte nennen Sie mir Ihren Namen oder die Terminnummer."
    if status == "rescheduled":
        return f"Ihr Termin wurde auf {when} verschoben."
    return "Es ist ein Fehler aufgetreten. Bitte versuchen Sie es noch einmal."
