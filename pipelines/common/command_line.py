"""What the two pipelines' command lines share.

- `ConfigOption`: a `train` flag that sets one field of the run's config. Each
  command line declares its flags once, as a table; `add_config_options` adds
  them with their defaults in `--help` and their earlier spellings accepted but
  hidden, and `train_config` builds the config: defaults, then the sections of
  a `--config FILE`, then the flags given.
- `CommandLineParser`: every command takes its options before, between or
  after its positional arguments (`predict RUN --json TEXT ...`).
- `--progress`: how training reports (`fit_reporting` in callbacks.py).
- `--verbose` and `quiet_tensorflow_start`: runs print no TensorFlow start-up
  lines unless asked.

Nothing here imports TensorFlow or Keras, so `--help` answers at once.
"""

import argparse
import contextlib
import dataclasses
import os
import sys

from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file
from pipelines.common.sectioned_config import config_task

VERBOSE_HELP = "also print TensorFlow's start-up log lines (CUDA, CPU features, oneDNN)"
CONFIG_HELP = (
    "a config.json of an earlier run, or part of one (any of its sections and keys): "
    "its settings replace the defaults; options given here replace its settings"
)


class CommandLineParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose commands take options anywhere among their positionals.

    Plain argparse gives a `nargs="*"` positional only the words before the
    first option, so `predict RUN --json "some text"` fails with "unrecognized
    arguments". A parser without subcommands (each subcommand's parser, and a
    parser like `python -m export`'s) parses in two passes, as argparse's
    `parse_intermixed_args` does: the options first, then the words left as
    positionals. A parser with subcommands parses as usual and hands the rest
    to the subcommand's parser (`parse_intermixed_args` raises `TypeError`
    there). Subcommand parsers are made of this class too: `add_subparsers`
    uses the parent's class.

    Everything after `--` is positional, even words that begin with `-`
    (`predict RUN -- "-5 stars"`). The second pass is given them after a `--`
    of its own: argparse's `parse_intermixed_args` can lose a `--` that comes
    before the first positional (Python 3.11).
    """

    def parse_known_args(self, args=None, namespace=None):
        positionals = self._get_positional_actions()
        if any(action.nargs in (argparse.PARSER, argparse.REMAINDER) for action in positionals):
            return super().parse_known_args(args, namespace)
        args = list(sys.argv[1:] if args is None else args)
        if "--" in args:
            split = args.index("--")
            options_part, after_dashes = args[:split], args[split + 1 :]
        else:
            options_part, after_dashes = args, None
        saved_usage = self.usage
        try:
            if self.usage is None:  # errors of the first pass show the full usage
                self.usage = self.format_usage()[len("usage: ") :]
            namespace, positional_words = self._parse_options_only(options_part, namespace, positionals)
            if after_dashes is not None:
                positional_words += ["--"] + after_dashes
            return self._parse_positionals_only(positional_words, namespace)
        finally:
            self.usage = saved_usage

    def _parse_options_only(self, args, namespace, positionals):
        """First pass: the options, with every positional switched off; returns the words left."""
        saved = [(action, action.nargs, action.default) for action in positionals]
        try:
            for action in positionals:
                action.nargs = argparse.SUPPRESS
                action.default = argparse.SUPPRESS
            namespace, left = super().parse_known_args(args, namespace)
        finally:
            for action, nargs, default in saved:
                action.nargs, action.default = nargs, default
        for action in positionals:  # the switched-off positionals store empty lists
            if getattr(namespace, action.dest, None) == []:
                delattr(namespace, action.dest)
        return namespace, left

    def _parse_positionals_only(self, args, namespace):
        """Second pass: the positionals (options were given or defaulted in the first)."""
        optionals = self._get_optional_actions()
        saved = [(action, action.required) for action in optionals]
        groups = [(group, group.required) for group in self._mutually_exclusive_groups]
        try:
            for action in optionals:
                action.required = False
            for group in self._mutually_exclusive_groups:
                group.required = False
            return super().parse_known_args(args, namespace)
        finally:
            for action, required in saved:
                action.required = required
            for group, required in groups:
                group.required = required


@dataclasses.dataclass(frozen=True)
class ConfigOption:
    """A command-line flag that sets `config.<section>.<field>`.

    Attributes:
        flag: str. The option, e.g. `"--num-heads"`.
        section: str. The config section, e.g. `"model"`.
        field: str. The field in that section.
        type: an argparse converter, or `bool` for a `--flag/--no-flag` pair.
        help: str. What it sets; the default is appended.
        aliases: tuple of str. Earlier spellings, accepted but not listed.
        choices: tuple of str, or None.
        required: bool. Must be given, here or in `--config`.
    """

    flag: str
    section: str
    field: str
    type: object
    help: str
    aliases: tuple = ()
    choices: tuple = None
    required: bool = False

    @property
    def dest(self):
        return self.flag.lstrip("-").replace("-", "_")


class HelpFormatter(argparse.HelpFormatter):
    """Shows hand-declared options' defaults (table options state theirs in
    their help, see `add_config_options`)."""

    def _get_help_string(self, action):
        help_text = action.help or ""
        if (
            action.option_strings
            and action.default not in (None, False, argparse.SUPPRESS)
            and "%(default)" not in help_text
            and "default" not in help_text
        ):
            help_text += " (default: %(default)s)"
        return help_text


class StoreSpelling(argparse.Action):
    """Stores the value, and which spelling of the option gave it (`spelling`),
    so that an error names the flag the user typed, old or new."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        spellings = dict(getattr(namespace, "option_spellings", {}))
        spellings[self.dest] = option_string
        namespace.option_spellings = spellings


def spelling(arguments, option):
    """The flag the user typed for `option` (an alias or the flag itself)."""
    return getattr(arguments, "option_spellings", {}).get(option.dest, option.flag)


def default_of(config, option):
    return getattr(getattr(config, option.section), option.field)


def add_config_options(group, options, describe_default):
    """Adds `options` to an argparse parser or group.

    Every option's argparse default is None ("not given"), so a `--config`
    file's value is kept unless the flag is given. `describe_default(option)`
    gives the text shown in parentheses after its help (None: nothing).
    """
    for option in options:
        settings = {"dest": option.dest, "default": None}
        if option.type is bool:
            settings["action"] = argparse.BooleanOptionalAction
        else:
            settings["action"] = StoreSpelling
            settings["type"] = option.type
            settings["choices"] = option.choices
        default_text = describe_default(option)
        help_text = f"{option.help} ({default_text})" if default_text else option.help
        group.add_argument(option.flag, help=help_text, **settings)
        for alias in option.aliases:
            group.add_argument(alias, help=argparse.SUPPRESS, **settings)


def describe_config_default(defaults):
    """`describe_default` for `add_config_options`: the field's value in `defaults`."""

    def describe(option):
        return describe_value(option, default_of(defaults, option))

    return describe


def describe_value(option, default):
    """`default: X` for `option`'s help."""
    if option.required:
        return "required unless --config gives it"
    if default is None:
        return None
    if option.type is bool and isinstance(default, bool):
        return f"default: {'on' if default else 'off'}"
    return f"default: {default}"


def add_config_file_option(parser):
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)


def given_options(arguments, options):
    """`{option: value}` for the options given on the command line."""
    return {
        option: getattr(arguments, option.dest)
        for option in options
        if getattr(arguments, option.dest, None) is not None
    }


def read_config_sections(path, config_class):
    """The sections of a config file meant for `config_class`, as `{section: {key: value}}`.

    The file is a run's `config.json` or any part of one. A top-level `"task"`
    naming this task is accepted; a config of the other task, an unknown
    section or key, or a section that is not an object is a `UserInputError`.
    """
    if not os.path.isfile(path):
        raise UserInputError(f"--config {path}: no such file; give the config.json of an earlier run")
    data = read_json_file(path)
    task = config_class.TASK
    if not isinstance(data, dict):
        raise UserInputError(f"--config {path}: not a JSON object; give the config.json of an earlier run")
    other_task = data.get("task", None) or config_task(data)
    if other_task is not None and other_task != task:
        raise UserInputError(
            f"--config {path} belongs to a {other_task} run, not a {task} run; "
            f"use it with `python -m pipelines.{other_task} train`"
        )
    sections = {key: value for key, value in data.items() if key != "task"}
    known = [field.name for field in dataclasses.fields(config_class)]
    unknown = sorted(set(sections) - set(known))
    if unknown:
        raise UserInputError(
            f"--config {path} has unknown sections {unknown}; a {task} config has {known}"
        )
    for name, values in sections.items():
        if not isinstance(values, dict):
            raise UserInputError(f"--config {path}: section {name!r} is not a JSON object")
    try:
        config_class.from_dict(sections)  # the one-line error for an unknown key
    except UserInputError as error:
        raise UserInputError(f"--config {path}: {error}") from None
    return sections


def train_config(arguments, options, config_class, defaults=None):
    """The config a `train` command runs: defaults ← `--config` sections ← flags.

    Args:
        arguments: the parsed arguments (with `config`, the path or None).
        options: the command's `ConfigOption`s.
        config_class: the `SectionedConfig` dataclass.
        defaults: callable from the `--config` sections to the starting
            config (defaults that depend on them). Defaults to `config_class()`.
    """
    sections = read_config_sections(arguments.config, config_class) if arguments.config else {}
    given = given_options(arguments, options)
    missing = [
        option.flag
        for option in options
        if option.required and option not in given and option.field not in sections.get(option.section, {})
    ]
    if missing:
        raise UserInputError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required; give "
            f"{'it' if len(missing) == 1 else 'them'} on the command line or in a --config file"
        )
    config = defaults(sections) if defaults is not None else config_class()
    for name, values in sections.items():
        setattr(config, name, dataclasses.replace(getattr(config, name), **values))
    for option, value in given.items():
        setattr(getattr(config, option.section), option.field, value)
    return config


def check_heads_divide_width(arguments, width_option, width, heads):
    """Attention splits the width across heads: each count must divide it.

    `heads` maps `ConfigOption`s to their head counts; errors name the flags
    as the user spelled them.
    """
    for option, count in heads.items():
        if width % count:
            raise UserInputError(
                f"{spelling(arguments, width_option)} {width} is not divisible by "
                f"{spelling(arguments, option)} {count}; make the width a multiple of every head count"
            )


# `train --progress`: how `fit` reports (the `verbose` of `fit_reporting` in callbacks.py).
PROGRESS = {"auto": "auto", "bar": 1, "lines": "lines", "epochs": 2, "none": 0}


def add_progress_option(parser):
    parser.add_argument(
        "--progress", choices=tuple(PROGRESS), default="auto",
        help="how training reports: bar (Keras's interactive progress bar), lines (a plain "
        "line every 30 seconds and at each epoch's end: step, loss, metrics, elapsed and "
        "remaining time), epochs (Keras's line per epoch) or none; auto: bar when standard "
        "output is a terminal, lines otherwise",
    )


def add_verbose_option(parser):
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)


@contextlib.contextmanager
def messages_to_stderr(enabled=True):
    """Sends what is printed to standard output to standard error while enabled.

    For `--json`: standard output then holds the JSON alone, while messages
    and progress (Keras's bar or plain lines, which choose by where they are
    going) still reach the user.
    """
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


@contextlib.contextmanager
def stderr_discarded():
    """Sends file descriptor 2 (C++ code writes there too) to /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow_start(verbose=False):
    """Imports TensorFlow without its start-up log lines, unless `verbose`.

    Call it after parsing and before anything imports TensorFlow. A
    `TF_CPP_MIN_LOG_LEVEL` the user set is kept; otherwise 3 hides the lines
    TensorFlow logs once running (`failed call to cuInit` is an ERROR line on
    any machine without a GPU). The lines its libraries log while loading
    (oneDNN, cudart_stub, CPU features, "All log messages before
    absl::InitializeLog()") come before TensorFlow reads that variable, so
    stderr is discarded while `tensorflow` is imported. An import that fails
    is left for the caller's own import to report.
    """
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with stderr_discarded():
            import tensorflow  # noqa: F401
    except ImportError:
        sys.modules.pop("tensorflow", None)
    except OSError:  # no file descriptor 2 to redirect
        pass
