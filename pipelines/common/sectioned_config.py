"""A run configuration made of dataclass sections, saved as config.json."""

import dataclasses

from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file

CLASSIFICATION = "classification"
SUMMARIZATION = "summarization"
TASKS = (CLASSIFICATION, SUMMARIZATION)
TASK_KEY = "task"


def config_task(data):
    """The task of a config.json's contents: its `"task"`, or None if it names none.

    Run directories written before config.json recorded its task have no
    `"task"`; theirs is guessed from the sections present.
    """
    if TASK_KEY in data:
        return data[TASK_KEY]
    if "generation" in data:  # only the summarizer's config has this section
        return SUMMARIZATION
    if "class_names" in data.get("data", {}) or "label_column" in data.get("data", {}):
        return CLASSIFICATION
    return None


class SectionedConfig:
    """Mixin for a dataclass whose fields are dataclass sections with defaults.

    Saving records the subclass's `TASK` as the top-level `"task"`. Loading
    rejects unknown keys (a file from a newer version) instead of silently
    dropping settings, and the config of the other task; missing keys take
    their defaults. Subclasses name their `TASK`.
    """

    TASK = None

    def to_dict(self):
        return {TASK_KEY: self.TASK, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data):
        cls.check_task(data, "this configuration")
        sections = {}
        for field in dataclasses.fields(cls):
            section_type = field.default_factory
            values = data.get(field.name, {})
            known = {f.name for f in dataclasses.fields(section_type)}
            unknown = sorted(set(values) - known)
            if unknown:
                raise UserInputError(
                    f"config section {field.name!r} has unknown keys {unknown}; "
                    "was it written by a newer version?"
                )
            sections[field.name] = section_type(**values)
        return cls(**sections)

    @classmethod
    def check_task(cls, data, source):
        """Refuses the config of another task; `source` names it in the message."""
        task = config_task(data)
        if task is not None and task not in TASKS:
            raise UserInputError(
                f"{source} names the task {task!r}; expected one of {', '.join(TASKS)}"
            )
        if cls.TASK is not None and task is not None and task != cls.TASK:
            raise UserInputError(
                f"{source} belongs to a {task} run, not a {cls.TASK} run; "
                f"use it with `python -m pipelines.{task}`"
            )

    def save(self, path):
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path):
        data = read_json_file(path)
        if not isinstance(data, dict):
            raise UserInputError(
                f"{path}: not a run configuration (a JSON object); point at a run directory written by `train`"
            )
        cls.check_task(data, path)
        return cls.from_run_file(data)

    @classmethod
    def from_run_file(cls, data):
        """The config of a run's saved config.json contents; `from_dict` unless a task
        reads files of earlier versions differently."""
        return cls.from_dict(data)
