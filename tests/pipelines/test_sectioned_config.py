"""config.json records its task; configs written before it did are still read, by their sections."""

import json

import pytest

from pipelines.classification.config import ClassifierConfig
from pipelines.common.errors import UserInputError
from pipelines.common.sectioned_config import config_task
from pipelines.summarization.config import SummarizerConfig


@pytest.mark.parametrize("config_class, task", [(ClassifierConfig, "classification"),
                                                (SummarizerConfig, "summarization")])
def test_saved_config_names_its_task_and_loads_back(config_class, task, tmp_path):
    config = config_class()
    path = tmp_path / "config.json"
    config.save(str(path))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["task"] == task and config_task(data) == task
    assert config_class.load(str(path)) == config
    assert config_class.from_dict(config.to_dict()) == config


def test_config_of_the_other_task_is_refused(tmp_path):
    path = tmp_path / "config.json"
    SummarizerConfig().save(str(path))
    with pytest.raises(UserInputError) as error:
        ClassifierConfig.load(str(path))
    assert str(error.value) == (
        f"{path} belongs to a summarization run, not a classification run; "
        "use it with `python -m pipelines.summarization`"
    )
    with pytest.raises(UserInputError, match="belongs to a classification run, not a summarization run"):
        SummarizerConfig.from_dict(ClassifierConfig().to_dict())


def test_unknown_task_is_refused():
    data = {**ClassifierConfig().to_dict(), "task": "translation"}
    with pytest.raises(UserInputError, match="names the task 'translation'; expected one of classification, summarization"):
        ClassifierConfig.from_dict(data)


def old_style(config):
    """The config as written before config.json named its task."""
    data = config.to_dict()
    del data["task"]
    return data


def test_config_without_task_is_read_by_its_sections(tmp_path):
    classifier = ClassifierConfig()
    classifier.data.class_names = ["neg", "pos"]
    summarizer = SummarizerConfig()
    assert config_task(old_style(classifier)) == "classification"
    assert config_task(old_style(summarizer)) == "summarization"
    for config_class, config in ((ClassifierConfig, classifier), (SummarizerConfig, summarizer)):
        path = tmp_path / f"{config_class.TASK}.json"
        path.write_text(json.dumps(old_style(config)), encoding="utf-8")
        assert config_class.load(str(path)) == config
    with pytest.raises(UserInputError, match="belongs to a summarization run, not a classification run"):
        ClassifierConfig.load(str(tmp_path / "summarization.json"))
    with pytest.raises(UserInputError, match="belongs to a classification run, not a summarization run"):
        SummarizerConfig.load(str(tmp_path / "classification.json"))
