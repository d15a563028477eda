"""What both pipelines' command lines share: `--help` without TensorFlow, no
TensorFlow start-up lines unless --verbose, the earlier flag spellings, and
the earlier module name of the JAX trainer."""

import os
import subprocess
import sys

import pytest

from pipelines.classification import cli as classification_cli
from pipelines.summarization import cli as summarization_cli

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Every --help of one command line, then which heavy modules were imported.
HELP_RUNNER = """
import sys
from pipelines.{task}.cli import build_parser, main
commands = build_parser()._subparsers._group_actions[0].choices
for argv in [["--help"]] + [[command, "--help"] for command in commands]:
    try:
        main(argv)
    except SystemExit as exit:
        assert exit.code == 0, argv
print(sorted(name for name in ("tensorflow", "keras", "tensorflow_text") if name in sys.modules))
"""


def run_python(arguments, **environment):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(environment, PYTHONPATH=REPOSITORY)
    return subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, timeout=300, cwd=REPOSITORY, env=env
    )


@pytest.mark.parametrize("task", ["classification", "summarization"])
def test_help_imports_neither_tensorflow_nor_keras(task):
    result = run_python(["-c", HELP_RUNNER.format(task=task)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "train" in result.stdout and "--config FILE" in result.stdout


def test_a_run_prints_no_tensorflow_start_up_lines(tmp_path):
    # predict imports TensorFlow, then stops on the missing run directory.
    missing = str(tmp_path / "missing")
    result = run_python(["-m", "pipelines.classification", "predict", missing, "a text"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {missing}"), lines


def test_quiet_start_keeps_a_log_level_the_user_set():
    code = (
        "import os; from pipelines.common.command_line import quiet_tensorflow_start; "
        "quiet_tensorflow_start(); print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    assert run_python(["-c", code], TF_CPP_MIN_LOG_LEVEL="1").stdout.strip() == "1"


def parsed_config(cli, command):
    arguments = cli.build_parser().parse_args(command)
    if cli is classification_cli:
        return cli.config_from_arguments(arguments)
    return cli.config_from_args(arguments)


CLASSIFICATION_DATA = ["--train", "t.tsv", "--valid", "v.tsv", "--text-column", "s", "--label-column", "l"]
SUMMARIZATION_DATA = ["--train", "t.csv", "--valid", "v.csv", "--document-column", "d", "--summary-column", "s"]


@pytest.mark.parametrize(
    "cli, data, old, new",
    [
        (classification_cli, CLASSIFICATION_DATA, ["--embedding-dim", "32"], ["--hidden-dim", "32"]),
        (classification_cli, CLASSIFICATION_DATA, ["--num-blocks", "3"], ["--encoder-layers", "3"]),
        (summarization_cli, SUMMARIZATION_DATA, ["--heads", "8"], ["--num-heads", "8"]),
    ],
)
def test_earlier_flag_spellings_set_the_same_setting(cli, data, old, new):
    command = ["train", *data, "--out", "run"]
    old_config = parsed_config(cli, command + old).to_dict()
    assert old_config == parsed_config(cli, command + new).to_dict()
    assert old_config != parsed_config(cli, command).to_dict()


def test_earlier_spellings_are_hidden_from_help():
    for cli, old in ((classification_cli, ("--embedding-dim", "--num-blocks")), (summarization_cli, ("--heads",))):
        commands = cli.build_parser()._subparsers._group_actions[0].choices
        text = commands["train"].format_help()
        assert not any(flag in text for flag in old)


def test_both_train_commands_spell_shared_settings_alike():
    flags = {}
    for cli in (classification_cli, summarization_cli):
        flags[cli] = {(option.section, option.field): option.flag for option in cli.TRAIN_OPTIONS}
    classification, summarization = flags[classification_cli], flags[summarization_cli]
    assert classification[("model", "embedding_dim")] == summarization[("model", "hidden_dim")]
    assert classification[("model", "num_blocks")] == summarization[("model", "encoder_layers")]
    shared = set(classification) & set(summarization)
    assert {("model", "num_heads"), ("training", "batch_size"), ("training", "jit_compile")} <= shared
    assert all(classification[key] == summarization[key] for key in shared)


def test_earlier_verbose_level_sets_the_classifier_progress():
    parser = classification_cli.build_parser()
    command = ["train", *CLASSIFICATION_DATA, "--out", "run"]
    assert classification_cli.train_progress(parser.parse_args(command + ["--verbose", "0"])) == 0
    assert classification_cli.train_progress(parser.parse_args(command + ["--progress", "epochs"])) == 2
    verbose = parser.parse_args(command + ["--verbose"])  # TensorFlow's log lines; progress as by default
    assert verbose.verbose is True and classification_cli.train_progress(verbose) == "auto"
    assert classification_cli.train_progress(parser.parse_args(command + ["--progress", "lines"])) == "lines"


def test_the_earlier_jax_trainer_module_still_runs():
    result = run_python(["-m", "pipelines.jax_training", "--help"], KERAS_BACKEND="jax")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "BUNDLE" in result.stdout and "--out" in result.stdout


# Each command that takes positional arguments: (command line, command, positionals, options),
# each option a flag with its value, if any. `train` and `prepare-arrays` take none.
POSITIONAL_COMMANDS = [
    (classification_cli, "evaluate", ["RUN"], [["--data", "test.tsv"], ["--out", "report.json"]]),
    (classification_cli, "predict", ["RUN", "a good film", "flat and dull"], [["--json"], ["--batch-size", "4"]]),
    (classification_cli, "explain", ["RUN", "a good film"], [["--out", "why.png"], ["--verbose"]]),
    (summarization_cli, "import-weights", ["BUNDLE", "WEIGHTS"], [["--out", "RUN"], ["--overwrite"]]),
    (summarization_cli, "evaluate", ["RUN"], [["--data", "pairs.csv"], ["--json"], ["--beams", "2"]]),
    (summarization_cli, "summarize", ["RUN", "Anna: lunch?", "Ben: a movie?"], [["--json"], ["--max-length", "9"]]),
]


def flag_placements(positionals, options):
    """The same words with the options all before, all after, all in each gap, and one per gap."""
    flags = [word for option in options for word in option]
    placements = [flags + positionals, positionals + flags]
    placements += [positionals[:cut] + flags + positionals[cut:] for cut in range(1, len(positionals))]
    spread = []
    for index, word in enumerate(positionals):
        spread += [word] + (options[index] if index < len(options) else [])
    placements.append(spread + [word for option in options[len(positionals):] for word in option])
    return placements


@pytest.mark.parametrize(
    "cli, command, positionals, options",
    POSITIONAL_COMMANDS,
    ids=[f"{cli.__name__.split('.')[1]}-{command}" for cli, command, _, _ in POSITIONAL_COMMANDS],
)
def test_options_may_come_before_between_or_after_positionals(cli, command, positionals, options):
    parser = cli.build_parser()
    expected = vars(parser.parse_args([command, *positionals, *[word for option in options for word in option]]))
    for words in flag_placements(positionals, options):
        assert vars(parser.parse_args([command, *words])) == expected, words
    positional_values = [value for value in expected.values() if value in positionals or value == positionals[1:]]
    assert positional_values and expected["command"] == command
    for option in options:  # every option given took effect
        value = expected[option[0].lstrip("-").replace("-", "_")]
        assert value is True if len(option) == 1 else str(value) == option[1]


def test_export_options_may_come_before_or_after_the_run_directory():
    from export.cli import build_parser

    parser = build_parser()
    options = ["--name", "sst2", "--overwrite", "--parity-rows", "8"]
    expected = vars(parser.parse_args(["RUN", *options]))
    assert expected["run_dir"] == "RUN" and expected["parity_rows"] == 8 and expected["overwrite"]
    assert vars(parser.parse_args([*options, "RUN"])) == expected
    assert vars(parser.parse_args(["--name", "sst2", "RUN", "--overwrite", "--parity-rows", "8"])) == expected


@pytest.mark.parametrize(
    "words, texts",
    [
        (["RUN", "--json", "--", "-5 stars", "--not-a-flag"], ["-5 stars", "--not-a-flag"]),
        (["--json", "--", "RUN", "-5 stars"], ["-5 stars"]),  # argparse's intermixed parser loses this --
        (["RUN", "a", "--json", "--", "-b"], ["a", "-b"]),
    ],
)
def test_texts_that_begin_with_a_dash_follow_two_dashes(words, texts):
    for cli, command in ((classification_cli, "predict"), (summarization_cli, "summarize")):
        arguments = cli.build_parser().parse_args([command, *words])
        assert (arguments.run_dir, arguments.texts, arguments.json) == ("RUN", texts, True)


def test_unknown_options_and_missing_positionals_are_still_errors(capsys):
    parser = classification_cli.build_parser()
    for words, message in (
        (["predict", "RUN", "--jsn", "a text"], "unrecognized arguments: --jsn"),
        (["explain", "--out", "why.png"], "required: RUN_DIR, TEXT"),
        (["explain", "RUN", "a text"], "required: --out"),
    ):
        with pytest.raises(SystemExit) as exit:
            parser.parse_args(words)
        assert exit.value.code == 2
        assert message in capsys.readouterr().err
