"""benchmarks/mutation.py without running mutmut: which mutants it picks and the report it writes
(the mutation run itself is too long for CI)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mutation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_runner",
                                                  ROOT / "benchmarks" / "mutation.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_mutant_names_map_to_their_module(mutation: ModuleType) -> None:
    assert mutation.module_of("booking_service.flows.booking.x__collect__mutmut_3") == \
        "booking_service/flows/booking.py"
    assert mutation.module_of("booking_service.calcom.circuit.xǁCircuitBreakerǁ_wait_over__mutmut_3") \
        == "booking_service/calcom/circuit.py"


def test_the_sample_is_evenly_spaced_and_the_same_every_time(mutation: ModuleType) -> None:
    names = [f"m.x_f__mutmut_{i}" for i in range(1, 11)]
    assert mutation.evenly_spaced(names, 5) == [names[i] for i in (0, 2, 4, 6, 8)]
    assert mutation.evenly_spaced(names, None) == names
    assert mutation.evenly_spaced(names, 20) == names
    assert mutation.evenly_spaced(names, 0) == []
    ordered = sorted(["m.x_f__mutmut_10", "m.x_f__mutmut_2", "m.x_e__mutmut_1"],
                     key=mutation.mutant_order)
    assert ordered == ["m.x_e__mutmut_1", "m.x_f__mutmut_2", "m.x_f__mutmut_10"]


def test_module_selection_expands_folders(mutation: ModuleType) -> None:
    files = mutation.module_files(["booking_service/calcom/", "booking_service/tenants.py"])
    assert "booking_service/calcom/client.py" in files
    assert "booking_service/tenants.py" in files
    assert not any(f.endswith("__init__.py") for f in files)


def test_the_report_counts_per_module_and_shows_every_survivor(mutation: ModuleType,
                                                               tmp_path: Path) -> None:
    m = mutation.Mutant
    mutants = [
        m("booking_service.tenants.x_load__mutmut_1", "booking_service/tenants.py", "killed"),
        m("booking_service.tenants.x_load__mutmut_2", "booking_service/tenants.py", "survived",
          diff="-    a\n+    b", tests=["scenarios/security/test_tenant_isolation.py::t"]),
        m("booking_service.tenants.x_load__mutmut_3", "booking_service/tenants.py", "timeout"),
        m("booking_service.german_datetime.x_p__mutmut_1", "booking_service/german_datetime.py",
          "no tests", diff="-x\n+y"),
        m("booking_service.tenants.x__validate_company__mutmut_7", "booking_service/tenants.py",
          "equivalent"),
    ]
    md = mutation.write_report(tmp_path, "scenarios", mutants, {"command": "python x"})
    text = md.read_text()
    assert "| booking_service/tenants.py | 1 | 1 | 1 | 0 | 1 | 0 | 66.7 % |" in text
    assert "| total | 1 | 1 | 1 | 1 | 1 | 0 | 50.0 % |" in text
    assert "## Equivalent survivors (1)" in text   # listed apart, out of the score
    assert "## Survivors (2)" in text
    assert "```diff\n-    a\n+    b\n```" in text
    assert "tenant isolation" in text          # the area that should have caught it
    assert "No test ran this function." in text
    data = json.loads((tmp_path / "scenarios.json").read_text())
    assert data["summary"]["total"]["score"] == 50.0
    assert [s["name"] for s in data["survivors"]] == [mutants[1].name, mutants[3].name]
