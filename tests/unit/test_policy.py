"""The bad-value policy: one table of checks, set from the configuration or the command line, recorded in sidecars."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import ConfigError, InvalidInputError
from pipeline.policy import CHECKS, Action, Policy, schema_fragment
from pipeline.workflow import policy_arguments


def test_defaults_strict_and_overrides() -> None:
    policy = Policy()
    assert policy.action("header.half_life_mismatch") is Action.RAISE
    assert policy.action("header.fallback") is Action.WARN
    assert Policy({"header.half_life_mismatch": "warn"}).action("header.half_life_mismatch") is Action.WARN
    strict = Policy({"header.fallback": "warn"}, strict=True)
    assert all(strict.refuses(key) for key in CHECKS)
    assert Policy().record() == {"strict": False, "checks": {k: c.default.value for k, c in CHECKS.items()}}


def test_apply_warns_once_or_raises() -> None:
    warnings: list[str] = []
    error = InvalidInputError("bad", source="x")
    Policy().apply("header.fallback", "fallback taken", error, warnings)
    Policy().apply("header.fallback", "fallback taken", error, warnings)
    assert warnings == ["fallback taken"]
    with pytest.raises(InvalidInputError, match="bad"):
        Policy(strict=True).apply("header.fallback", "fallback taken", error, warnings)


def test_configuration_errors_name_the_key_and_the_allowed_values() -> None:
    assert Policy.from_config({"strict": False, "voi": {"resample": "warn"}}).action("voi.resample") is Action.WARN
    with pytest.raises(ConfigError) as info:
        Policy.from_config({"voi": {"resample": "ignore"}}, source="c.yaml")
    assert str(info.value) == ("c.yaml: policy.voi.resample: must be warn or raise, got 'ignore'; "
                               "set it to warn or raise")
    with pytest.raises(ConfigError, match=r"policy\.voi\.resampel: unknown key; checks of voi: resample"):
        Policy.from_config({"voi": {"resampel": "warn"}})
    with pytest.raises(ConfigError, match=r"policy\.headers: unknown key"):
        Policy.from_config({"headers": {}})


def test_command_line_settings() -> None:
    policy = Policy.from_settings(["voi.resample=warn"], shorthands=["header.half_life_mismatch"])
    assert policy.action("voi.resample") is Action.WARN and policy.action("header.half_life_mismatch") is Action.WARN
    with pytest.raises(InvalidInputError, match="not KEY=ACTION"):
        Policy.from_settings(["voi.resample"])
    with pytest.raises(InvalidInputError, match="unknown policy check 'voi.resize'"):
        Policy.from_settings(["voi.resize=warn"])


def test_schema_fragment_and_workflow_arguments() -> None:
    fragment = schema_fragment()
    assert fragment["properties"]["header"]["properties"]["half_life_mismatch"]["default"] == "raise"
    assert fragment["properties"]["voi"]["properties"]["resample"]["enum"] == ["warn", "raise"]
    assert policy_arguments({"policy": {}}) == ""
    config = {"policy": {"strict": True, "header": {"fallback": "warn", "half_life_mismatch": "warn"}}}
    assert policy_arguments(config) == "--strict --policy header.half_life_mismatch=warn"


def test_global_strict_and_policy_flags_reach_the_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`petvoi --policy` is validated before the command runs; `--strict` refuses what the default warns about."""
    assert main(["--policy", "voi.resample=maybe", "collect", "--samples", str(tmp_path / "s.tsv"), "--template",
                 "{subject}/{timepoint}.csv", "-o", str(tmp_path / "c.csv")]) == 2
    assert "--policy voi.resample: must be warn or raise, got 'maybe'" in capsys.readouterr().err
