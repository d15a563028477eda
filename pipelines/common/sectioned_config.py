"""A run configuration made of dataclass sections, saved as config.json."""

import dataclasses
import json

from pipelines.common.atomic import write_json_atomic
from pipelines.common.errors import UserInputError


class SectionedConfig:
    """Mixin for a dataclass whose fields are dataclass sections with defaults.

    Loading rejects unknown keys (a file from a newer version) instead of
    silently dropping settings; missing keys take their defaults.
    """

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
        try:
            with open(path, encoding="utf-8") as file:
                return cls.from_dict(json.load(file))
        except FileNotFoundError:
            raise UserInputError(
                f"{path} not found; point at a run directory written by `train`"
            ) from None
