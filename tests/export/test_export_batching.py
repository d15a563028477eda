"""`batching_params.pbtxt`: parsed as TF Serving parses it, where TF Serving looks for it.

The serving protos that define `BatchingParameters` are not in the pip
`tensorflow-serving-api` package, so the message is declared here field for
field as TF Serving's `servables/tensorflow/session_bundle_config.proto` declares
it (names, numbers, wrapper types). Text-format parsing refuses an unknown field
or a value of the wrong type, as the model server's `ParseProtoTextFile` does.
"""

import os

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory
from google.protobuf import text_format
from google.protobuf import wrappers_pb2

from export import layout
from export.batching import BATCHING_PARAMETERS
from export.batching import batching_parameters_text

FIELD = descriptor_pb2.FieldDescriptorProto


def batching_parameters_class():
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    schema = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
        package="tensorflow.serving",
        dependency=["google/protobuf/wrappers.proto"],
        syntax="proto3",
    )
    message = schema.message_type.add(name="BatchingParameters")
    for number, (name, wrapper) in enumerate([
        ("max_batch_size", "Int64Value"), ("batch_timeout_micros", "Int64Value"),
        ("max_enqueued_batches", "Int64Value"), ("num_batch_threads", "Int64Value"),
        ("thread_pool_name", "StringValue"),
    ], start=1):
        message.field.add(name=name, number=number, label=FIELD.LABEL_OPTIONAL,
                          type=FIELD.TYPE_MESSAGE, type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=6, label=FIELD.LABEL_REPEATED, type=FIELD.TYPE_INT64)
    message.field.add(name="pad_variable_length_inputs", number=7, label=FIELD.LABEL_OPTIONAL, type=FIELD.TYPE_BOOL)
    pool.Add(schema)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


BatchingParameters = batching_parameters_class()


@pytest.mark.parametrize("task", sorted(BATCHING_PARAMETERS))
def test_each_task_s_file_parses_as_batching_parameters(task):
    parameters = text_format.Parse(batching_parameters_text(task), BatchingParameters())
    expected = BATCHING_PARAMETERS[task]
    assert parameters.max_batch_size.value == expected["max_batch_size"] >= 1
    assert parameters.batch_timeout_micros.value == expected["batch_timeout_micros"] > 0
    assert parameters.max_enqueued_batches.value == expected["max_enqueued_batches"] >= 1
    # Ids would be padded with their first element ([CLS]), which the model reads as text.
    assert parameters.pad_variable_length_inputs is False
    # The thread pool is the server's (its --batching_parameters_file), not the model's.
    assert not parameters.HasField("num_batch_threads")
    # The parser is strict: a misspelt field fails as it would in the model server.
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_sise { value: 8 }", BatchingParameters())


def test_an_unknown_task_is_refused_with_the_known_ones_named():
    with pytest.raises(ValueError, match="expected one of"):
        batching_parameters_text("translation")


def test_exported_versions_carry_the_file_beside_saved_model_pb(version_dir, summarizer_version_dir):
    for directory, task in ((version_dir, "classification"), (summarizer_version_dir, "summarization")):
        path = os.path.join(directory, layout.BATCHING_PARAMETERS_FILE)
        assert os.path.isfile(os.path.join(os.path.dirname(path), layout.SAVED_MODEL_FILE))
        with open(path, encoding="utf-8") as file:
            parameters = text_format.Parse(file.read(), BatchingParameters())
        assert parameters.max_batch_size.value == BATCHING_PARAMETERS[task]["max_batch_size"]
