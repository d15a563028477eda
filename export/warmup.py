"""TF Serving warmup records: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these `PredictionLog` records when it loads a version, so
the first real request does not pay for graph initialization. Each record is a
`PredictRequest` for one signature; each task's `saved_model.py` says which
(`*_warmup_inputs`).
"""

import os

import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from export import layout
from export.serving import SERVING_DEFAULT


def predict_request(model_name, signature_name, inputs):
    """A `PredictionLog` holding one `PredictRequest`; `inputs` maps names to arrays."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    )
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )


def warmup_logs(model_name, requests):
    """The `PredictionLog` records of `(signature, inputs)` pairs, in order."""
    return [predict_request(model_name, signature, inputs) for signature, inputs in requests]


def write_warmup_file(version_dir, logs):
    path = os.path.join(version_dir, layout.WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def read_warmup_file(version_dir):
    """The `PredictionLog` records of a version's warmup file."""
    path = os.path.join(version_dir, layout.WARMUP_FILE)
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(path)
    ]


def replay(saved_model, log):
    """Runs one warmup record against a loaded SavedModel, as TF Serving does at load."""
    request = log.predict_log.request
    signature = saved_model.signatures[request.model_spec.signature_name or SERVING_DEFAULT]
    inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
    return signature(**{name: tf.constant(value) for name, value in inputs.items()})
