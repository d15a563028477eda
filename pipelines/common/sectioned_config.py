"""A run configuration made of dataclass sections, saved as config.json."""

import dataclasses

from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError
from pipelines.common.run_files import read_json_file

CLASSIFICATION = "classification"
SUMMARIZATION = "summarization"


def config_task(data):
    """`classification` or `summarization` from a config.json's contents, or None."""
    if "generation" in data:  # only the summarizer's config has this section
        return SUMMARIZATION
    if "class_names" in data.get("data", {}) or "label_column" in data.get("data", {}):
        return CLASSIFICATION
    return None


class SectionedConfig:
    """Mixin for a dataclass whose fields are dataclass sections with defaults.

    Loading rejects unknown keys (a file from a newer version) instead of
    silently dropping settings, and the config of the other task; missing keys
    take their defaults. Subclasses name their `TASK`.
    """

    TASK = None

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
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

    def save(self, path):
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path):
        data = read_json_file(path)
        if not isinstance(data, dict):
            raise UserInputError(
                f"{path}: not a run configuration (a JSON object); point at a run directory written by `train`"
            )
        task = config_task(data)
        if cls.TASK is not None and task is not None and task != cls.TASK:
            raise UserInputError(
                f"{path} belongs to a {task} run, not a {cls.TASK} run; "
                f"use it with `python -m pipelines.{task}`"
            )
        return cls.from_dict(data)
