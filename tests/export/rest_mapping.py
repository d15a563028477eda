"""TF Serving's REST `:predict` JSON mapping, applied to a loaded SavedModel.

The model server cannot be installed here, so this reproduces the part of its
documented contract that depends on our signatures (tensorflow.org/tfx/serving/api_rest):

- Row format `{"signature_name": ..., "instances": [...]}`: with one input
  each instance is the value itself, otherwise an object of named inputs; the
  response is `{"predictions": [...]}`, one object per instance (one value per
  instance when the signature has a single output).
- Columnar format `{"inputs": value or {name: value}}`: the response is
  `{"outputs": {name: value}}` (the bare value for a single output).
- Strings travel as JSON strings; errors come back as `{"error": message}`.

Tests use it to prove the responses that README documents; it is not a server.
"""

import numpy as np
import tensorflow as tf

DEFAULT_SIGNATURE = "serving_default"


class RestRequestError(ValueError):
    """A request TF Serving would answer with `{"error": ...}` (HTTP 400)."""


def predict(saved_model, body):
    """The JSON response (a dict) TF Serving gives for a `:predict` request body."""
    try:
        return _predict(saved_model, body)
    except RestRequestError as error:
        return {"error": str(error)}


def _predict(saved_model, body):
    signature_name = body.get("signature_name", DEFAULT_SIGNATURE)
    if signature_name not in saved_model.signatures:
        raise RestRequestError(f"Serving signature name: \"{signature_name}\" not found in signature def")
    signature = saved_model.signatures[signature_name]
    input_names = sorted(signature.structured_input_signature[1])
    if ("instances" in body) == ("inputs" in body):
        raise RestRequestError("JSON body must have exactly one of 'instances' (row format) or 'inputs' (columnar format)")
    if "instances" in body:
        inputs = row_inputs(body["instances"], input_names)
        outputs = call_signature(signature, inputs)
        return {"predictions": rows_of(outputs)}
    inputs = columnar_inputs(body["inputs"], input_names)
    outputs = call_signature(signature, inputs)
    return {"outputs": columns_of(outputs)}


def row_inputs(instances, input_names):
    if not isinstance(instances, list) or not instances:
        raise RestRequestError("'instances' must be a non-empty list")
    if len(input_names) == 1 and not isinstance(instances[0], dict):
        return {input_names[0]: instances}
    columns = {name: [] for name in input_names}
    for instance in instances:
        if not isinstance(instance, dict) or set(instance) != set(input_names):
            raise RestRequestError(f"every instance must be an object with the inputs {input_names}")
        for name in input_names:
            columns[name].append(instance[name])
    return columns


def columnar_inputs(inputs, input_names):
    if not isinstance(inputs, dict):
        if len(input_names) != 1:
            raise RestRequestError(f"'inputs' must be an object with the inputs {input_names}")
        return {input_names[0]: inputs}
    if set(inputs) != set(input_names):
        raise RestRequestError(f"'inputs' must name exactly the inputs {input_names}; got {sorted(inputs)}")
    return inputs


def call_signature(signature, inputs):
    specs = signature.structured_input_signature[1]
    tensors = {}
    for name, value in inputs.items():
        try:
            tensors[name] = tf.constant(value, dtype=specs[name].dtype)
        except (TypeError, ValueError) as error:
            raise RestRequestError(f"input {name!r} does not match {specs[name]}: {error}") from None
    try:
        outputs = signature(**tensors)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        raise RestRequestError(error_line(error)) from None
    return {name: to_json_value(tensor.numpy()) for name, tensor in outputs.items()}


def error_line(error):
    """The line of a TensorFlow error that says what is wrong (a graph error's first lines
    are "Graph execution error:" and where the failing node was defined)."""
    lines = [line.strip() for line in str(error).splitlines()]
    skipped = ("Graph execution error", "Detected at node", "<stack traces", "[[")
    useful = [line for line in lines if line and not line.startswith(skipped)]
    return useful[0] if useful else lines[0]


def to_json_value(array):
    if array.dtype == object:
        return np.vectorize(lambda item: item.decode("utf-8"), otypes=[object])(array).tolist()
    return array.tolist()


def rows_of(outputs):
    if len(outputs) == 1:
        return next(iter(outputs.values()))
    names = sorted(outputs)
    return [dict(zip(names, values)) for values in zip(*(outputs[name] for name in names))]


def columns_of(outputs):
    if len(outputs) == 1:
        return next(iter(outputs.values()))
    return outputs
