"""`POST /_fake/desk-cancel`: the host's cancel at the desk, past every armed fault."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_calcom import FakeConfig, ThreadedFakeServer
from fake_calcom.client import FakeControl, FakeControlError
from fake_calcom.testing import FROZEN_NOW, TUESDAY_0900

ATTENDEE = {"name": "Olga Outside", "email": "olga@example.com"}


@pytest.fixture(scope="module")
def threaded() -> Iterator[ThreadedFakeServer]:
    with ThreadedFakeServer(FakeConfig(seed=5)) as server:
        yield server


@pytest.fixture
def control(threaded: ThreadedFakeServer) -> FakeControl:
    control = FakeControl(threaded.url, timeout_s=5)
    control.reset()
    control.freeze(FROZEN_NOW)
    return control


def test_cancels_as_the_host_and_no_armed_fault_fires(control: FakeControl) -> None:
    booking = control.take_slot(2001, TUESDAY_0900, ATTENDEE)
    control.add_fault({"name": "hang", "match": {"method": "POST", "path": "/v2/bookings/*/cancel"},
                       "action": {"kind": "hang", "phase": "before"}})
    cancelled = control._call("POST", "/_fake/desk-cancel", {"uid": booking["uid"]})
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancellationReason"] == "Abgesagt am Empfang"
    assert cancelled["cancelledByEmail"]  # the host's
    assert [f["fired"] for f in control.faults()["faults"]] == [0]
    (truth,) = control.state()["bookings"]
    assert truth["status"] == "cancelled"


def test_refuses_what_cal_com_would_not_do(control: FakeControl) -> None:
    booking = control.take_slot(2001, TUESDAY_0900, ATTENDEE)
    with pytest.raises(FakeControlError) as unknown:
        control._call("POST", "/_fake/desk-cancel", {"uid": "nope"})
    assert unknown.value.status == 404
    control._call("POST", "/_fake/desk-cancel", {"uid": booking["uid"], "reason": "krank"})
    with pytest.raises(FakeControlError) as again:
        control._call("POST", "/_fake/desk-cancel", {"uid": booking["uid"]})
    assert again.value.status == 409
    with pytest.raises(FakeControlError) as bad:
        control._call("POST", "/_fake/desk-cancel", {"uid": booking["uid"], "colour": 1})
    assert bad.value.status == 400
