"""harness/adapters: loading an adapter by name (every way it can fail), the request record in the
harness's vocabulary, attribution, and the voice adapter against the protocol."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from harness.adapters import (
    Adapter,
    AdapterContext,
    AdapterError,
    Attribution,
    Request,
    load_adapter_class,
)
from harness.adapters.voice import VoiceAdapter
from harness.slots import Slot, slot_on
from harness.target import Target, TargetCompany

METHODS = ("check", "book", "cancel", "reschedule", "appointments", "close")
SLOT = slot_on(datetime(2026, 1, 7, tzinfo=UTC).date(), 14)  # 07.01.2026 14:00 Berlin
NEW_SLOT = slot_on(datetime(2026, 1, 8, tzinfo=UTC).date(), 9, 30)


def adapter_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                   source: str) -> str:
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def adapter_source(*, without: str | None = None, not_callable: str | None = None) -> str:
    lines = ["class Half:", "    capabilities = frozenset({'book'})"]
    for method in METHODS:
        if method == without:
            continue
        if method == not_callable:
            lines.append(f"    {method} = None")
        else:
            lines.append(f"    async def {method}(self, *args): ...")
    return "\n".join(lines) + "\n"


# -- load_adapter_class ---------------------------------------------------------------------------


def test_voice_names_the_builtin_adapter() -> None:
    assert load_adapter_class("voice") is VoiceAdapter
    assert load_adapter_class("harness.adapters.voice:VoiceAdapter") is VoiceAdapter


@pytest.mark.parametrize("spec", ["voice_adapter", "harness.adapters.voice", ":VoiceAdapter",
                                  "harness.adapters.voice:", ""])
def test_a_spec_that_is_not_module_colon_class_is_explained(spec: str) -> None:
    with pytest.raises(AdapterError) as error:
        load_adapter_class(spec)
    assert str(error.value) == f"adapter {spec!r}: write 'package.module:Class' (or one of: voice)"


def test_a_missing_module_is_named() -> None:
    with pytest.raises(AdapterError) as error:
        load_adapter_class("no_such_adapter_module_xyz:Adapter")
    assert str(error.value) == ("adapter 'no_such_adapter_module_xyz:Adapter': cannot import "
                                "no_such_adapter_module_xyz (No module named "
                                "'no_such_adapter_module_xyz')")


def test_a_module_whose_own_import_fails_names_what_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = adapter_module(tmp_path, monkeypatch, "needs_a_dependency_mod",
                          "import no_such_dependency_xyz\n")
    with pytest.raises(AdapterError) as error:
        load_adapter_class(f"{name}:Adapter")
    assert str(error.value) == (f"adapter '{name}:Adapter': cannot import {name} (No module "
                                "named 'no_such_dependency_xyz')")


@pytest.mark.parametrize("attribute", ["NoSuchAdapter", "BUILTIN", "load_adapter_class"])
def test_a_missing_class_is_named(attribute: str) -> None:
    with pytest.raises(AdapterError) as error:
        load_adapter_class(f"harness.adapters:{attribute}")
    assert str(error.value) == (f"adapter 'harness.adapters:{attribute}': harness.adapters has "
                                f"no class {attribute}")


@pytest.mark.parametrize("method", METHODS)
def test_a_class_lacking_a_method_is_named(method: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    name = adapter_module(tmp_path, monkeypatch, f"half_adapter_{method}",
                          adapter_source(without=method))
    with pytest.raises(AdapterError) as error:
        load_adapter_class(f"{name}:Half")
    assert str(error.value) == f"adapter '{name}:Half': Half has no {method}() method"


def test_a_method_that_is_not_callable_counts_as_missing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    name = adapter_module(tmp_path, monkeypatch, "uncallable_adapter",
                          adapter_source(not_callable="cancel"))
    with pytest.raises(AdapterError, match=r"Half has no cancel\(\) method$"):
        load_adapter_class(f"{name}:Half")


def test_a_complete_class_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = adapter_module(tmp_path, monkeypatch, "whole_adapter", adapter_source())
    cls = load_adapter_class(f"{name}:Half")
    assert (cls.__name__, cls.__module__) == ("Half", name)


# -- the request as the history keeps it ------------------------------------------------------------


def test_a_check_records_the_slot_and_service_but_no_caller() -> None:
    request = Request("check", "call_1", slot=SLOT, name="Anna", service="Beratung",
                      phone="+4915111111111")
    assert request.record() == {"call_id": "call_1", "datum": "07.01.2026", "uhrzeit": "14:00",
                                "dienstleistung": "Beratung", "telefon": "+4915111111111"}


def test_a_collect_records_every_field_the_caller_gave() -> None:
    request = Request("collect", "call_1", slot=SLOT, name="Anna Alt", phone="+4915111111111",
                      email="anna@example.com", service="Beratung", confirm=False)
    assert request.record() == {"call_id": "call_1", "datum": "07.01.2026", "uhrzeit": "14:00",
                                "name": "Anna Alt", "dienstleistung": "Beratung",
                                "telefon": "+4915111111111", "email": "anna@example.com",
                                "bestaetigung": False}
    assert Request("collect", "call_2", slot=SLOT, name="B").record() == {
        "call_id": "call_2", "datum": "07.01.2026", "uhrzeit": "14:00", "name": "B"}
    assert Request("collect", "call_3", slot=SLOT, confirm=True).record()["bestaetigung"] is True


def test_a_cancel_records_what_identifies_the_booking() -> None:
    assert Request("cancel", "call_1", appointment_id=17, slot=SLOT, reason="krank").record() == {
        "call_id": "call_1", "appointment_id": 17, "datum": "07.01.2026", "uhrzeit": "14:00",
        "grund": "krank"}
    assert Request("cancel", "call_2").record() == {"call_id": "call_2"}


def test_a_reschedule_records_where_to() -> None:
    request = Request("reschedule", "call_1", slot=SLOT, new_slot=NEW_SLOT, appointment_id="a7")
    assert request.record() == {"call_id": "call_1", "neues_datum": "08.01.2026",
                                "neue_uhrzeit": "09:30", "appointment_id": "a7",
                                "datum": "07.01.2026", "uhrzeit": "14:00"}
    with pytest.raises(AssertionError):
        Request("reschedule", "call_2", slot=SLOT).record()


def test_extra_raw_fields_are_recorded_as_given_and_win() -> None:
    request = Request("collect", "call_1", slot=SLOT, name="Anna",
                      extra={"uhrzeit": "14 Uhr", "to_number": "+4930123456"})
    assert request.record() == {"call_id": "call_1", "datum": "07.01.2026", "uhrzeit": "14 Uhr",
                                "name": "Anna", "to_number": "+4930123456"}


def test_the_slot_is_named_as_callers_and_cal_com_name_it() -> None:
    assert isinstance(SLOT, Slot)
    assert (SLOT.datum, SLOT.uhrzeit, SLOT.start) == ("07.01.2026", "14:00",
                                                      "2026-01-07T13:00:00Z")


# -- attribution and the voice adapter ---------------------------------------------------------------


def test_attribution_describes_itself() -> None:
    assert Attribution().describe() == "metadata.call_id"
    assert Attribution("metadata", "ref").describe() == "metadata.ref"
    assert Attribution("phone").describe() == "attendee phone"
    assert Attribution("email").describe() == "attendee email"


def voice_target() -> Target:
    return Target(name="t", service_url="http://127.0.0.1:9",
                  companies={"primary": TargetCompany(role="primary", api_key="k")})


async def test_the_voice_adapter_is_an_adapter_attributing_by_call_id() -> None:
    async with aiohttp.ClientSession() as http:
        adapter = VoiceAdapter(AdapterContext(voice_target(), http, {"timeout_s": 3}))
        try:
            assert isinstance(adapter, Adapter)
            assert adapter.attribution == Attribution("metadata", "call_id")
            assert adapter.capabilities == {"check", "book", "cancel", "reschedule",
                                            "appointments", "voice_api", "tenant_reads",
                                            "webhooks", "reconcile"}
        finally:
            await adapter.close()


async def test_the_voice_adapter_refuses_settings_it_does_not_know() -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ValueError) as error:
            VoiceAdapter(AdapterContext(voice_target(), http, {"timeout_s": 3, "retries": 2}))
    assert str(error.value) == "voice adapter: unknown setting(s) ['retries']; known: timeout_s"


async def test_an_unreachable_service_is_an_unknown_answer_not_an_exception() -> None:
    async with aiohttp.ClientSession() as http:
        adapter = VoiceAdapter(AdapterContext(voice_target(), http, {"timeout_s": 5}))
        try:
            answer = await adapter.check(Request("check", "call_1", slot=SLOT))
        finally:
            await adapter.close()
    assert (answer.http_status, answer.body, answer.status) == (None, None, None)
    assert answer.error is not None
    assert answer.error.startswith("ClientConnectorError")
