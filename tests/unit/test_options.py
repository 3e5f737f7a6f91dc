"""Stage options: declared once with their flag and YAML key, validated when built, named generically in errors."""

from __future__ import annotations

import argparse

import pytest

from pipeline.errors import InvalidInputError
from pipeline.kinetics.options import BloodOptions, KineticsOptions
from pipeline.metrics.options import TextureOptions, UptakeOptions
from pipeline.policy import Action, Policy
from pipeline.suv.options import SuvOptions


def test_flags_and_values_from_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    SuvOptions.add_arguments(parser)
    args = parser.parse_args(["--kind", "lbm", "--dose", "250", "--injection", "2025-03-03T09:27:19+01:00",
                              "--weight", "70"])
    args.policy = Policy({"header.fallback": "raise"})
    options = SuvOptions.from_args(args)
    assert options.kind == "lbm" and options.dose_bq == 250e6 and options.weight_kg == 70.0
    assert options.injection_datetime is not None and options.injection_datetime.utcoffset().total_seconds() == 3600
    assert options.policy.action("header.fallback") is Action.RAISE
    with pytest.raises(SystemExit):
        parser.parse_args(["--injection", "yesterday"])


def test_invalid_values_are_refused_when_built_naming_the_flag_or_the_yaml_key() -> None:
    with pytest.raises(InvalidInputError) as info:
        SuvOptions(kind="sul")
    assert info.value.attribute == "--kind" and "bw, lbm, bsa, ibw" in (info.value.remedy or "")
    with pytest.raises(InvalidInputError) as info:
        UptakeOptions.from_config({"uptake": {"peak": "top"}})
    assert info.value.attribute == "uptake.peak" and "global, local" in (info.value.remedy or "")
    with pytest.raises(InvalidInputError, match="unknown VOI kinds"):
        TextureOptions(kinds=("tumor",))


def test_configuration_values_and_inverted_flags() -> None:
    cfg = {"uptake": {"peak": "local", "exclude_tumours_from_organs": False, "min_voxels": 4},
           "texture": {"kinds": "tumour,organ", "workers": 2}, "policy": {"strict": True}}
    uptake = UptakeOptions.from_config(cfg)
    assert (uptake.peak_mode, uptake.exclude_tumours_from_organs, uptake.min_voxels) == ("local", False, 4)
    assert uptake.policy.strict
    assert TextureOptions.from_config(cfg).kinds == ("tumour", "organ")
    parser = argparse.ArgumentParser()
    UptakeOptions.add_arguments(parser)
    assert UptakeOptions.from_args(parser.parse_args([])).exclude_tumours_from_organs is True
    assert UptakeOptions.from_args(parser.parse_args(["--keep-tumours-in-organs"])).exclude_tumours_from_organs is False


def test_blood_delay_is_seconds_or_fit_with_its_voi() -> None:
    assert BloodOptions(delay="8").delay_s == 8.0 and not BloodOptions(delay="8").fits_delay
    assert BloodOptions(delay="fit", delay_voi="spleen").fits_delay
    with pytest.raises(InvalidInputError, match="--delay 'soon' is neither seconds nor 'fit'"):
        BloodOptions(delay="soon")
    with pytest.raises(InvalidInputError) as info:
        BloodOptions.from_config({"kinetics": {"delay": "fit"}})
    assert info.value.attribute == "kinetics.delay_voi"
    with pytest.raises(InvalidInputError, match="unknown model 'spm'"):
        KineticsOptions(models=("spm",))
