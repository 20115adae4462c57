"""`python -m booking_service`: help, flags and environment, migrate, seed-demo, reconcile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from booking_service import DEFENSE_NAMES, cli, migrate
from booking_service.app import SETTINGS, AccessLogger
from fake_calcom import FakeConfig, ThreadedFakeServer
from fake_calcom.client import FakeControl


def test_module_entry_point_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "booking_service", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    for word in ("serve", "migrate", "seed-demo", "reconcile", *DEFENSE_NAMES):
        assert word in done.stdout


def test_serve_help_names_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for name in (
        "BOOKING_DATABASE_URL",
        "CALCOM_BASE_URL",
        "CALCOM_API_KEY",
        "CALCOM_WEBHOOK_SECRET",
        "BOOKING_DEFENSES_OFF",
        "BOOKING_TENANTS_FILE",
    ):
        assert name in text


def test_defenses_lists_the_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["defenses"]) == 0
    assert capsys.readouterr().out.split() == list(DEFENSE_NAMES)


def test_serve_reads_flags_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    captured: dict[str, Any] = {}
    monkeypatch.setattr(
        cli.web, "run_app", lambda app, **kwargs: captured.update(app=app, **kwargs)
    )
    monkeypatch.setenv("BOOKING_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("CALCOM_BASE_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("CALCOM_API_KEY", "cal_env_key")
    monkeypatch.setenv("CALCOM_WEBHOOK_SECRET", "whsec_env")
    monkeypatch.setenv("BOOKING_DEFENSES_OFF", "freshness,slot_lock")
    assert cli.main(["serve", "--port", "8099", "--calcom-url", "http://127.0.0.1:7777"]) == 0
    settings = captured["app"][SETTINGS]
    assert captured["port"] == 8099
    assert settings.database_url == f"sqlite:///{tmp_path}/env.db"
    assert settings.calcom_base_url == "http://127.0.0.1:7777"  # the flag wins over the environment
    assert settings.calcom_api_key == "cal_env_key"
    assert settings.webhook_secret == "whsec_env"
    assert settings.defenses.off == ["freshness", "slot_lock"]
    assert captured["access_log_class"] is AccessLogger  # no query strings in the access log


def test_serve_refuses_unknown_defenses(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--defense-off", "freshnes"]) == 2
    assert "unknown defense name(s): freshnes" in capsys.readouterr().err


def test_migrate_up_and_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    assert cli.main(["migrate", "upgrade", "--database-url", url]) == 0
    assert f"revision {migrate.head_revision()}" in capsys.readouterr().out
    assert cli.main(["migrate", "downgrade", "--database-url", url]) == 0
    assert "base (empty)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["migrate", "--database-url", "oracle://scott@db/x"], "unsupported database 'oracle'"),
        (["migrate", "--database-url", "not a url"], "not a database URL"),
        (["migrate", "--database-url", "sqlite://"], "in-memory SQLite"),
        (
            ["seed-demo", "--database-url", "sqlite:////nonexistent-dir/x.db"],
            "does not exist: /nonexistent-dir",
        ),
    ],
)
def test_bad_database_urls_are_clear_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) in (1, 2)
    assert message in capsys.readouterr().err


def test_seed_demo_writes_the_tenants_twice_without_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/seed.db"
    assert cli.main(["seed-demo", "--database-url", url]) == 0
    assert cli.main(["seed-demo", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert out.count("company 1: Praxis Berlin — 1 branch(es), 4 service(s)") == 2
    assert "company 2: Praxis Hamburg" in out


def test_bad_tenants_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps({"companies": [{"name": "X", "api_key": "k"}]}))
    assert (
        cli.main(
            ["seed-demo", "--database-url", f"sqlite:///{tmp_path}/t.db", "--tenants", str(tenants)]
        )
        == 2
    )
    assert "companies[0]: needs an api_key" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "seed-demo",
                "--database-url",
                f"sqlite:///{tmp_path}/t.db",
                "--tenants",
                str(tmp_path / "nope.json"),
            ]
        )
        == 2
    )
    assert "tenants file not found" in capsys.readouterr().err


def test_reconcile_command_against_the_fake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ThreadedFakeServer(FakeConfig(seed=3, rate_limit=False)) as fake:
        control = FakeControl(fake.url)
        control.freeze("2026-01-05T07:00:00Z")
        outside = control.take_slot(
            2001,
            "2026-01-07T13:00:00Z",
            {"name": "Outside", "email": "o@example.com"},
            webhooks=False,
        )
        base = ["--database-url", f"sqlite:///{tmp_path}/rec.db", "--calcom-url", fake.url]
        window = ["--from", "2026-01-05T00:00:00Z", "--to", "2026-02-01T00:00:00Z"]
        assert cli.main(["reconcile", *base, *window]) == 0
        report = json.loads(capsys.readouterr().out)
        assert [m["booking_uid"] for m in report["missing"]] == [outside["uid"]]
        assert report["repaired"] == 0
        assert cli.main(["reconcile", "--repair", *base, *window]) == 0
        assert json.loads(capsys.readouterr().out)["repaired"] == 1
        assert cli.main(["reconcile", *base, "--from", "yesterday"]) == 2
        assert "not an ISO-8601 timestamp" in capsys.readouterr().err
