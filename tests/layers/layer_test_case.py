"""A shared layer test, modelled on keras-hub's `TestCase.run_layer_test`.

`run_layer_test(layer_cls, init_kwargs, input_data, ...)` runs one layer
configuration through: explicit build, symbolic call on `keras.Input`, eager
call, `get_config`/`from_config` round trip, a couple of `fit` steps with
`jit_compile=True`, `.keras` save/load with `safe_mode=True`, and the
`mixed_float16`/`mixed_bfloat16` dtype policies.

`input_data` is one array (passed positionally) or a dict of arrays passed by
argument name (`{"query": q, "value": v}`). When two entries are the same
array object they become one `keras.Input`, so `{"query": x, "value": x}`
exercises the self-attention path symbolically too.
"""

import functools
import inspect
import os
import tempfile

import keras
import numpy as np
from keras import ops

from numpy_reference import to_numpy

MIXED_POLICIES = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
# Largest deviation from the float32 output, relative to max(1, |output|),
# accepted under each mixed policy (float16 has 11 significant bits, bfloat16
# 8, and a block chains a few dozen rounded operations).
MIXED_TOLERANCE = {"mixed_float16": 2e-2, "mixed_bfloat16": 1.5e-1}


class MaskProbe(keras.layers.Layer):
    """Records the Keras mask that reaches it (what a downstream layer sees)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.received_mask = "never called"

    def call(self, inputs, mask=None):
        self.received_mask = None if mask is None else to_numpy(mask, bool)
        return inputs


def received_mask(outputs):
    """The Keras mask a downstream layer receives from `outputs`, or None."""
    probe = MaskProbe()
    probe(outputs)
    return probe.received_mask


def call_layer(layer, inputs, call_kwargs=None):
    call_kwargs = call_kwargs or {}
    if isinstance(inputs, dict):
        return layer(**inputs, **call_kwargs)
    return layer(inputs, **call_kwargs)


def assert_finite(x, what):
    array = to_numpy(x, np.float64)
    assert np.all(np.isfinite(array)), f"{what} has non-finite values"


def _symbolic_inputs(input_data):
    """keras.Input for each distinct array; returns (call_inputs, model_inputs)."""
    if not isinstance(input_data, dict):
        array = np.asarray(input_data)
        symbolic = keras.Input(shape=array.shape[1:], dtype=str(array.dtype))
        return symbolic, symbolic
    by_array = {}
    call_inputs, model_inputs = {}, {}
    for name, array in input_data.items():
        if id(array) not in by_array:
            array = np.asarray(array)
            by_array[id(input_data[name])] = keras.Input(
                shape=array.shape[1:], dtype=str(array.dtype), name=name
            )
            model_inputs[name] = by_array[id(input_data[name])]
        call_inputs[name] = by_array[id(input_data[name])]
    return call_inputs, model_inputs


def _model_data(input_data, model_inputs):
    if not isinstance(input_data, dict):
        return input_data
    return {name: input_data[name] for name in model_inputs}


def _build_shapes(input_data):
    if isinstance(input_data, dict):
        return {f"{name}_shape": np.shape(array) for name, array in input_data.items()}
    return {"input_shape": np.shape(input_data)}


def _accepts_training(layer):
    return "training" in inspect.signature(layer.call).parameters


def _check_build(layer_cls, init_kwargs, input_data, expected_num_trainable_weights):
    layer = layer_cls(**init_kwargs)
    shapes = _build_shapes(input_data)
    if isinstance(input_data, dict):
        layer.build(**shapes)
    else:
        layer.build(shapes["input_shape"])
    assert layer.built, "layer.build() did not mark the layer built"
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights, [
            w.path for w in layer.trainable_weights
        ]
    # Building must create every weight: a first call may not add more.
    count_after_build = len(layer.weights)
    call_layer(layer, input_data)
    assert len(layer.weights) == count_after_build, "call() created new weights"
    return layer


def _check_symbolic_and_eager(layer, input_data, call_kwargs, expected_output_shape):
    call_inputs, model_inputs = _symbolic_inputs(input_data)
    symbolic_output = call_layer(layer, call_inputs, call_kwargs)
    expected_symbolic = (None,) + tuple(expected_output_shape[1:])
    assert tuple(symbolic_output.shape) == expected_symbolic, (
        symbolic_output.shape,
        expected_symbolic,
    )
    assert keras.backend.standardize_dtype(symbolic_output.dtype) == layer.compute_dtype

    eager_output = call_layer(layer, input_data, call_kwargs)
    assert tuple(eager_output.shape) == tuple(expected_output_shape)
    assert keras.backend.standardize_dtype(eager_output.dtype) == layer.compute_dtype
    assert_finite(eager_output, "eager output")

    model = keras.Model(model_inputs, symbolic_output)
    model_output = model(_model_data(input_data, model_inputs))
    np.testing.assert_allclose(
        to_numpy(model_output), to_numpy(eager_output), rtol=1e-5, atol=1e-6
    )

    if _accepts_training(layer):
        training_output = call_layer(layer, input_data, {**call_kwargs, "training": True})
        assert tuple(training_output.shape) == tuple(expected_output_shape)
        assert_finite(training_output, "training=True output")
    return to_numpy(eager_output)


def _check_config_round_trip(layer_cls, layer, init_kwargs, input_data, call_kwargs):
    config = layer.get_config()
    constructor = inspect.signature(layer_cls.__init__).parameters
    for name, parameter in constructor.items():
        if name in ("self",) or parameter.kind is parameter.VAR_KEYWORD:
            continue
        assert name in config, f"get_config() misses the constructor argument {name!r}"
    for name, value in init_kwargs.items():
        if isinstance(value, str) and isinstance(config[name], dict):
            # An initializer or constraint named by string comes back serialized.
            class_name = config[name]["class_name"].lower()
            assert class_name == value.replace("_", "").lower(), (name, config[name], value)
        elif isinstance(value, (bool, int, float, str, type(None))):
            assert config[name] == value, (name, config[name], value)

    revived = layer_cls.from_config(config)
    assert revived.get_config() == config
    call_layer(revived, input_data, call_kwargs)
    revived.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        to_numpy(call_layer(revived, input_data, call_kwargs)),
        to_numpy(call_layer(layer, input_data, call_kwargs)),
        rtol=1e-6,
        atol=1e-6,
    )
    # Serialization by registered name, as `.keras` files store it.
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("keras_attention>")
    assert isinstance(keras.saving.deserialize_keras_object(serialized), layer_cls)


def _training_model(layer_cls, init_kwargs, input_data, call_kwargs):
    layer = layer_cls(**init_kwargs)
    call_inputs, model_inputs = _symbolic_inputs(input_data)
    if not isinstance(input_data, dict) and np.issubdtype(
        np.asarray(input_data).dtype, np.floating
    ):
        # A trainable projection in front: fit then also needs gradients
        # through the layer to its input, and a layer without weights of its
        # own (PositionalEncoding) still has something to train.
        call_inputs = keras.layers.Dense(
            np.shape(input_data)[-1], name="input_projection"
        )(call_inputs)
    output = call_layer(layer, call_inputs, call_kwargs)
    return keras.Model(model_inputs, output), layer, model_inputs


def _check_fit_and_saving(
    layer_cls, init_kwargs, input_data, call_kwargs, run_training_check, run_saving_check
):
    model, layer, model_inputs = _training_model(
        layer_cls, init_kwargs, input_data, call_kwargs
    )
    data = _model_data(input_data, model_inputs)
    if run_training_check:
        before = [to_numpy(w) for w in model.trainable_weights]
        assert before, "nothing to train"
        target = np.random.default_rng(0).normal(
            size=tuple(model.output.shape[1:])
        ).astype("float32")
        batch = len(np.asarray(next(iter(data.values())) if isinstance(data, dict) else data))
        targets = np.broadcast_to(target, (batch,) + target.shape).copy()
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=1e-2),
            loss="mse",
            jit_compile=True,
        )
        history = model.fit(
            data, targets, batch_size=max(1, batch // 2), epochs=1, shuffle=False, verbose=0
        )
        assert np.all(np.isfinite(history.history["loss"]))
        after = [to_numpy(w) for w in model.trainable_weights]
        for weight in after:
            assert np.all(np.isfinite(weight)), "fit produced non-finite weights"
        assert any(not np.array_equal(a, b) for a, b in zip(before, after)), (
            "fit did not change any weight"
        )
        _assert_layer_trained(model, layer, before)

    if run_saving_check:
        expected = to_numpy(model(data))
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "model.keras")
            model.save(path)
            loaded = keras.saving.load_model(path, safe_mode=True)
        revived_layer = loaded.get_layer(layer.name)
        assert type(revived_layer) is layer_cls
        assert revived_layer.get_config() == layer.get_config()
        np.testing.assert_allclose(to_numpy(loaded(data)), expected, rtol=1e-6, atol=1e-6)


def _assert_layer_trained(model, layer, weights_before):
    """At least one of the layer's own trainable weights moved during fit."""
    if not layer.trainable_weights:
        return
    before_by_path = {
        w.path: value for w, value in zip(model.trainable_weights, weights_before)
    }
    moved = [
        not np.array_equal(to_numpy(w), before_by_path[w.path])
        for w in layer.trainable_weights
    ]
    assert any(moved), f"fit did not update any weight of {layer.name}"


def _check_mixed_precision(layer_cls, init_kwargs, input_data, call_kwargs, reference_layer):
    float32_output = to_numpy(call_layer(reference_layer, input_data, call_kwargs))
    scale = max(1.0, float(np.max(np.abs(float32_output))))
    for policy, compute_dtype in MIXED_POLICIES.items():
        try:
            keras.config.set_dtype_policy(policy)
            layer = layer_cls(**init_kwargs)
            call_layer(layer, input_data, call_kwargs)
        finally:
            keras.config.set_dtype_policy("float32")
        assert layer.compute_dtype == compute_dtype
        for weight in layer.weights:
            assert keras.backend.standardize_dtype(weight.dtype) == "float32", weight.path
        for sublayer in layer._flatten_layers(include_self=False):
            assert sublayer.dtype_policy.name == policy, (sublayer.name, sublayer.dtype_policy)
        layer.set_weights(reference_layer.get_weights())
        output = call_layer(layer, input_data, call_kwargs)
        assert keras.backend.standardize_dtype(output.dtype) == compute_dtype, (
            policy,
            output.dtype,
        )
        output = to_numpy(output)
        assert np.all(np.isfinite(output)), f"non-finite output under {policy}"
        deviation = float(np.max(np.abs(output - float32_output)))
        assert deviation <= MIXED_TOLERANCE[policy] * scale, (policy, deviation, scale)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    call_kwargs=None,
    expected_num_trainable_weights=None,
    run_training_check=True,
    run_saving_check=True,
    run_mixed_precision_check=True,
):
    """Runs one layer configuration through every generic check."""
    call_kwargs = dict(call_kwargs or {})
    keras.utils.set_random_seed(0)
    layer = _check_build(layer_cls, init_kwargs, input_data, expected_num_trainable_weights)
    _check_symbolic_and_eager(layer, input_data, call_kwargs, expected_output_shape)
    _check_config_round_trip(layer_cls, layer, init_kwargs, input_data, call_kwargs)
    _check_fit_and_saving(
        layer_cls, init_kwargs, input_data, call_kwargs, run_training_check, run_saving_check
    )
    if run_mixed_precision_check:
        _check_mixed_precision(layer_cls, init_kwargs, input_data, call_kwargs, layer)


def backend_jit(fn):
    """`fn` compiled by the backend's own compiler, with a trace counter.

    TensorFlow: `tf.function(jit_compile=True)` (XLA); JAX: `jax.jit`. Returns
    `(compiled_fn, traces)` where `traces[0]` counts how often `fn` was traced.
    """
    traces = [0]

    def counted(*args):
        traces[0] += 1
        return fn(*args)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(counted, jit_compile=True), traces
    if backend == "jax":
        import jax

        return jax.jit(counted), traces
    raise AssertionError(f"no compiled path written for backend {backend!r}")


def randomize_weights(layer, seed=0):
    """Gives every weight of `layer` independent random values.

    Numeric tests compare against references built from the weights; distinct
    query/key/value (and self/cross-attention) weights and non-zero biases make
    sure a swapped or missing weight shows, whatever the initializers do.
    """
    rng = np.random.default_rng(seed)
    values = []
    for weight in layer.weights:
        shape = tuple(weight.shape)
        if "gamma" in weight.path:
            value = 1.0 + 0.1 * rng.normal(size=shape)
        elif "bias" in weight.path or "beta" in weight.path or len(shape) < 2:
            value = 0.3 * rng.normal(size=shape)
        else:
            value = rng.normal(size=shape) / np.sqrt(shape[0])
        values.append(value.astype(keras.backend.standardize_dtype(weight.dtype)))
    layer.set_weights(values)


def random_weights_on_build(layer, seed=0):
    """Makes `layer` call `randomize_weights` right after it is built."""
    build = layer.build

    @functools.wraps(build)
    def build_then_randomize(*args, **kwargs):
        build(*args, **kwargs)
        randomize_weights(layer, seed)

    layer.build = build_then_randomize
    return layer
