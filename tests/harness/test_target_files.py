"""Target files v2 (harness/target.py): every validation message, and `target_toml` round trips."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from harness.target import (
    Target,
    TargetCompany,
    TargetError,
    load_target,
    parse_target,
    target_toml,
)

WHERE = "t.toml"
BASE = 'service_url = "http://svc.example"\n[companies.primary]\napi_key = "bs_k"\n'
TOKEN_ENV = "CALHARNESS_TEST_TARGET_TOKEN"
KNOWN_TOP = ("adapter, adapter_settings, allow_booking, allow_faults, calcom, companies, "
             "days_ahead, max_requests, name, service_url, test_control")


def parse(text: str) -> Target:
    return parse_target(tomllib.loads(text), WHERE)


def fields(target: Target) -> dict[str, Any]:
    """Everything but the run id (random per target)."""
    data = {f.name: getattr(target, f.name) for f in dataclasses.fields(target)}
    data.pop("run_id")
    data["adapter_settings"] = dict(target.adapter_settings)
    return data


ERRORS = [
    # unknown keys, at every level
    ('surprise = 1\n' + BASE, f"{WHERE}: unknown setting(s) surprise; known: {KNOWN_TOP}"),
    ('service_url = "http://s"\nservice = "Beratung"\n[companies.primary]\napi_key = "k"\n',
     f"{WHERE}: unknown setting(s) service; known: {KNOWN_TOP}"),
    (BASE + 'pone = "+49"\n',
     f"{WHERE}: [companies.primary]: unknown setting(s) pone; known: api_key, branch_ids, "
     "calcom_api_key, fallback_email, id, name, phone"),
    (BASE + '[calcom]\nurl = "http://c"\n',
     f"{WHERE}: [calcom]: unknown setting(s) url; known: api_key, api_url, control_url, webhook_secret"),
    (BASE + '[test_control]\ntoken = "t"\ntokn = "t"\n',
     f"{WHERE}: [test_control]: unknown setting(s) tokn; known: replica_url, token, token_env, "
     "url"),
    # required
    ('[companies.primary]\napi_key = "k"\n',
     f"{WHERE}: service_url is required (the booking service's base URL)"),
    ('service_url = "http://s"\n',
     f"{WHERE}: [companies.primary] is required (api_key, phone) unless [test_control] lets "
     "the service name its tenants"),
    ('service_url = "http://s"\n[companies.primary]\nphone = "+4930"\n',
     f'{WHERE}: [companies.primary] needs api_key = "…" (the tenant\'s key for the read API)'),
    ('service_url = "http://s"\n[companies.primary]\napi_key = ""\n',
     f'{WHERE}: [companies.primary] needs api_key = "…" (the tenant\'s key for the read API)'),
    # types
    ('service_url = "ftp://s"\n[companies.primary]\napi_key = "k"\n',
     f"{WHERE}: service_url must be an http(s) URL, got 'ftp://s'"),
    ('service_url = "http://"\n[companies.primary]\napi_key = "k"\n',
     f"{WHERE}: service_url must be an http(s) URL, got 'http://'"),
    ('service_url = 8080\n[companies.primary]\napi_key = "k"\n',
     f"{WHERE}: service_url must be an http(s) URL, got 8080"),
    ('allow_booking = "yes"\n' + BASE, f"{WHERE}: allow_booking must be true or false, got 'yes'"),
    ('allow_faults = 1\n' + BASE, f"{WHERE}: allow_faults must be true or false, got 1"),
    ('max_requests = -1\n' + BASE, f"{WHERE}: max_requests must be a non-negative integer, got -1"),
    ('max_requests = true\n' + BASE,
     f"{WHERE}: max_requests must be a non-negative integer, got True"),
    ('max_requests = "300"\n' + BASE,
     f"{WHERE}: max_requests must be a non-negative integer, got '300'"),
    ('days_ahead = 0\n' + BASE, f"{WHERE}: days_ahead must be a positive integer, got 0"),
    ('days_ahead = 2.5\n' + BASE, f"{WHERE}: days_ahead must be a positive integer, got 2.5"),
    ('adapter = ""\n' + BASE, f'{WHERE}: adapter must be "voice" or "package.module:Class"'),
    ('adapter = 3\n' + BASE, f'{WHERE}: adapter must be "voice" or "package.module:Class"'),
    ('calcom = "http://c"\n' + BASE, f"{WHERE}: [calcom] must be a table"),
    ('calcom = ""\n' + BASE, f"{WHERE}: [calcom] must be a table"),
    ('adapter_settings = []\n' + BASE, f"{WHERE}: [adapter_settings] must be a table"),
    ('test_control = false\n' + BASE, f"{WHERE}: [test_control] must be a table"),
    ('service_url = "http://s"\ncompanies = []\n', f"{WHERE}: [companies] must be a table"),
    ('service_url = "http://s"\n[companies]\nprimary = "bs_k"\n',
     f"{WHERE}: [companies.primary] must be a table"),
    (BASE + 'id = "1"\n', f"{WHERE}: [companies.primary]: id must be an integer"),
    (BASE + 'id = true\n', f"{WHERE}: [companies.primary]: id must be an integer"),
    (BASE + 'phone = 4930123456\n', f"{WHERE}: [companies.primary]: phone must be a string"),
    (BASE + 'fallback_email = false\n',
     f"{WHERE}: [companies.primary]: fallback_email must be a string"),
    (BASE + 'branch_ids = "6f1c"\n',
     f"{WHERE}: [companies.primary]: branch_ids must be a list of strings"),
    (BASE + 'branch_ids = [1]\n',
     f"{WHERE}: [companies.primary]: branch_ids must be a list of strings"),
    (BASE + '[calcom]\ncontrol_url = "127.0.0.1:8787"\n',
     f"{WHERE}: [calcom] control_url must be an http(s) URL, got '127.0.0.1:8787'"),
    (BASE + '[calcom]\napi_url = "api.cal.com"\n',
     f"{WHERE}: [calcom] api_url must be an http(s) URL, got 'api.cal.com'"),
    (BASE + '[calcom]\napi_key = 5\n', f"{WHERE}: [calcom] api_key must be a string"),
    (BASE + '[test_control]\ntoken = "t"\nurl = "svc:8080"\n',
     f"{WHERE}: [test_control] url must be an http(s) URL, got 'svc:8080'"),
    (BASE + '[test_control]\ntoken = "t"\nreplica_url = "nope"\n',
     f"{WHERE}: [test_control] replica_url must be an http(s) URL, got 'nope'"),
    # faults only at a fake
    ('allow_faults = true\n' + BASE,
     f"{WHERE}: allow_faults needs a fake Cal.com behind the service: set [calcom] control_url "
     "(faults are never sent to the real Cal.com)"),
    ('allow_faults = true\n' + BASE + '[calcom]\napi_url = "https://api.cal.com"\n',
     f"{WHERE}: allow_faults needs a fake Cal.com behind the service: set [calcom] control_url "
     "(faults are never sent to the real Cal.com)"),
    # test control needs its token, one way
    (BASE + '[test_control]\nurl = "http://svc.example"\n',
     f"{WHERE}: [test_control] needs token or token_env"),
    (BASE + '[test_control]\ntoken = "t"\ntoken_env = "X"\n',
     f"{WHERE}: [test_control] takes token or token_env, not both"),
    (BASE + '[test_control]\ntoken = ""\n',
     f"{WHERE}: [test_control] token must be a non-empty string"),
    (BASE + '[test_control]\ntoken = 42\n',
     f"{WHERE}: [test_control] token must be a non-empty string"),
    (BASE + '[test_control]\ntoken_env = ""\n',
     f"{WHERE}: [test_control] token_env must name an environment variable"),
    (BASE + f'[test_control]\ntoken_env = "{TOKEN_ENV}"\n',
     f"{WHERE}: [test_control] token_env: ${TOKEN_ENV} is not set (export it, or remove "
     "[test_control] to run black-box)"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[m.split(": ", 1)[1][:60]
                                                           for _, m in ERRORS])
def test_each_mistake_is_named(text: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(TargetError) as error:
        parse(text)
    assert str(error.value) == message


def test_an_empty_token_env_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "")
    with pytest.raises(TargetError, match=rf"\${TOKEN_ENV} is not set"):
        parse(BASE + f'[test_control]\ntoken_env = "{TOKEN_ENV}"\n')


FULL = '''
name = "staging"
service_url = "https://booking.example.com/"
adapter = "mysvc.adapter:MyAdapter"
allow_booking = true
allow_faults = true
max_requests = 400
days_ahead = 21

[adapter_settings]
timeout_s = 12.5
default_service = "Beratung"
retries = [1, 2]
auth = { header = "X-Key", value = "s3cret" }

[companies.primary]
api_key = "bs_demo_berlin"
phone = "+4930123456"
fallback_email = "termin@praxis-berlin.example"
id = 1
name = "Praxis Berlin"
calcom_api_key = "cal_live_calharness_anna"
branch_ids = ["6f1c2b0e-3d4a-4c59-9e8f-0a1b2c3d4e5f"]

[companies.secondary]
api_key = "bs_demo_hamburg"

[calcom]
control_url = "http://127.0.0.1:8787/"
api_url = "https://api.cal.com"
api_key = "cal_live_reader"

[test_control]
url = "http://127.0.0.1:9000"
token = "tc-secret"
replica_url = "http://127.0.0.1:9001/"
'''


def test_a_full_target_file_reads_into_every_field() -> None:
    target = parse(FULL)

    assert fields(target) == {
        "name": "staging", "service_url": "https://booking.example.com",
        "companies": {
            "primary": TargetCompany(
                role="primary", api_key="bs_demo_berlin", phone="+4930123456",
                fallback_email="termin@praxis-berlin.example", id=1, name="Praxis Berlin",
                calcom_api_key="cal_live_calharness_anna",
                branch_ids=("6f1c2b0e-3d4a-4c59-9e8f-0a1b2c3d4e5f",)),
            "secondary": TargetCompany(role="secondary", api_key="bs_demo_hamburg")},
        "adapter": "mysvc.adapter:MyAdapter",
        "adapter_settings": {"timeout_s": 12.5, "default_service": "Beratung", "retries": [1, 2],
                             "auth": {"header": "X-Key", "value": "s3cret"}},
        "allow_booking": True, "allow_faults": True, "max_requests": 400, "days_ahead": 21,
        "calcom_control_url": "http://127.0.0.1:8787", "calcom_api_url": "https://api.cal.com",
        "calcom_api_key": "cal_live_reader", "calcom_webhook_secret": None,
        "test_control_url": "http://127.0.0.1:9000",
        "test_control_token": "tc-secret", "replica_url": "http://127.0.0.1:9001",
        "embedded": False,
    }
    assert target.primary.role == "primary"
    assert target.secondary is not None
    assert target.run_id.startswith("calh")


def test_defaults_of_a_minimal_file() -> None:
    target = parse(BASE)

    assert fields(target) == {
        "name": "target", "service_url": "http://svc.example",
        "companies": {"primary": TargetCompany(role="primary", api_key="bs_k")},
        "adapter": "voice", "adapter_settings": {}, "allow_booking": False,
        "allow_faults": False, "max_requests": 300, "days_ahead": 30,
        "calcom_control_url": None, "calcom_api_url": None, "calcom_api_key": None,
        "calcom_webhook_secret": None, "test_control_url": None, "test_control_token": None, "replica_url": None,
        "embedded": False}
    assert target.secondary is None
    assert parse("max_requests = 0\n" + BASE).max_requests is None  # 0: no budget


def test_test_control_by_token_env_defaults_to_the_service_url_and_needs_no_companies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "from-the-environment")

    target = parse(f'service_url = "http://svc.example/"\n[test_control]\n'
                   f'token_env = "{TOKEN_ENV}"\n')

    assert (target.test_control_url, target.test_control_token, target.companies) == (
        "http://svc.example", "from-the-environment", {})


def test_two_runs_of_one_file_get_different_run_ids() -> None:
    assert parse(BASE).run_id != parse(BASE).run_id


# -- files ------------------------------------------------------------------------------------------


def test_load_target_names_the_file_and_takes_its_stem_as_default_name(tmp_path: Path) -> None:
    path = tmp_path / "my-staging.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_target(path).name == "my-staging"

    path.write_text("surprise = 1\n" + BASE, encoding="utf-8")
    with pytest.raises(TargetError, match=rf"^{path}: unknown setting\(s\) surprise; "):
        load_target(path)


def test_unreadable_target_files_are_clear_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(TargetError) as error:
        load_target(missing)
    assert str(error.value) == f"target file not found: {missing}"

    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Käse"\n'.encode("latin-1"))
    with pytest.raises(TargetError) as error:
        load_target(latin)
    assert str(error.value) == f"{latin} is not UTF-8 text"

    broken = tmp_path / "broken.toml"
    broken.write_text('service_url = "http://x\n', encoding="utf-8")
    with pytest.raises(TargetError, match=rf"^{broken} is not valid TOML: "):
        load_target(broken)

    with pytest.raises(TargetError, match=rf"^cannot read target file {tmp_path}: "):
        load_target(tmp_path)


# -- target_toml --------------------------------------------------------------------------------------


def round_trip(target: Target, **kwargs: Any) -> Target:
    text = target_toml(target, **kwargs)
    return parse_target(tomllib.loads(text), WHERE)


def test_target_toml_round_trips_a_full_target() -> None:
    target = parse(FULL)
    assert fields(round_trip(target)) == fields(target)


def test_target_toml_round_trips_awkward_strings() -> None:
    target = Target(
        name='the "quoted" \\ staging', service_url="http://svc.example",
        companies={"primary": TargetCompany(role="primary", api_key='k"ey\\', phone="+49 30 1",
                                            name="Zürich\tPraxis"),
                   "front desk": TargetCompany(role="front desk", api_key="k2")},
        adapter_settings={"greeting": 'Grüß "Gott"\n', "odd key": True, "n": 0},
        max_requests=None, test_control_url="http://svc.example", test_control_token='t"k')

    assert fields(round_trip(target)) == fields(target)


def test_target_toml_round_trips_a_minimal_and_a_black_box_target() -> None:
    for target in (parse(BASE), parse(BASE + '[calcom]\ncontrol_url = "http://fake"\n')):
        assert fields(round_trip(target)) == fields(target)


def test_target_toml_can_name_the_token_by_environment_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    target = parse(FULL)
    text = target_toml(target, token_env=TOKEN_ENV)

    assert f'token_env = "{TOKEN_ENV}"' in text
    assert "tc-secret" not in text
    monkeypatch.setenv(TOKEN_ENV, "tc-secret")
    assert fields(parse_target(tomllib.loads(text), WHERE)) == fields(target)


def test_target_toml_of_an_embedded_target_is_a_plain_deployment() -> None:
    target = Target(name="embedded", service_url="http://127.0.0.1:1", allow_booking=True,
                    allow_faults=True, max_requests=None, calcom_control_url="http://127.0.0.1:2",
                    test_control_url="http://127.0.0.1:1", test_control_token="tok",
                    companies={"primary": TargetCompany(role="primary", api_key="bs")},
                    embedded=True)

    again = round_trip(target)

    assert fields(again) == {**fields(target), "embedded": False}
