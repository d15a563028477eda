import argparse

import pytest

from pipelines.common import argument_types


@pytest.mark.parametrize(
    "convert, text",
    [
        (argument_types.positive_int, "0"),
        (argument_types.positive_int, "-3"),
        (argument_types.non_negative_int, "-1"),
        (argument_types.positive_float, "0"),
        (argument_types.positive_float, "nan"),
        (argument_types.positive_float, "inf"),
        (argument_types.non_negative_float, "-0.5"),
        (argument_types.non_negative_float, "nan"),
        (argument_types.fraction, "1"),
        (argument_types.fraction, "nan"),
        (argument_types.finite_float, "-inf"),
        (argument_types.finite_float, "abc"),
    ],
)
def test_rejects_out_of_range_and_non_finite(convert, text):
    with pytest.raises(argparse.ArgumentTypeError, match=text):
        convert(text)


@pytest.mark.parametrize(
    "convert, text, expected",
    [
        (argument_types.positive_int, "3", 3),
        (argument_types.non_negative_int, "0", 0),
        (argument_types.positive_float, "1e-3", 1e-3),
        (argument_types.non_negative_float, "0", 0.0),
        (argument_types.fraction, "0", 0.0),
        (argument_types.fraction, "0.5", 0.5),
        (argument_types.finite_float, "-2.5", -2.5),
    ],
)
def test_accepts_values_in_range(convert, text, expected):
    assert convert(text) == expected


def test_one_of_names_the_choices():
    convert = argument_types.one_of(("sinusoidal", "rope"))
    assert convert("rope") == "rope"
    with pytest.raises(argparse.ArgumentTypeError, match="sinusoidal, rope"):
        convert("alibi")


def test_classification_command_rejects_nan_learning_rate(capsys):
    from pipelines.classification.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--train", "t.csv", "--valid", "v.csv", "--text-column", "text",
              "--label-column", "label", "--out", "run", "--learning-rate", "nan"])
    assert exit_info.value.code == 2
    assert "expected a finite number, got nan" in capsys.readouterr().err
