"""Data-parallel training on existing engines: tf.distribute and Keras's
distribution API, chosen by name so the pipelines need no code changes.

  none         the default device (a GPU when TensorFlow sees one)
  mirrored     tf.distribute.MirroredStrategy over all local GPUs (or all
               logical CPUs when there is no GPU)
  multiworker  tf.distribute.MultiWorkerMirroredStrategy; the cluster comes
               from the TF_CONFIG environment variable
On the JAX backend, `mirrored` uses keras.distribution.DataParallel over all
local devices; `multiworker` needs jax.distributed set up by the launcher.

The batch size a pipeline is given is the global batch: each step splits it
across the replicas. Only the chief writes the run directory; the other
workers of a multi-worker run keep their resumable state in a folder of their
own (`worker_run_path`), as Keras's multi-worker guide recommends.
"""

import contextlib
import json
import os

from pipelines.common.errors import UserInputError

DISTRIBUTIONS = ("none", "mirrored", "multiworker")


def _tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise UserInputError(f"TF_CONFIG is not valid JSON ({error}); fix the variable") from None


def is_chief():
    """Whether this process should write checkpoints, models and reports.

    The chief is the task of type "chief", or worker 0 of a cluster without one,
    or the only process when there is no TF_CONFIG.
    """
    task = _tf_config().get("task")
    if not task:
        return True
    cluster = _tf_config().get("cluster", {})
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and task.get("index", 0) == 0 and "chief" not in cluster


def make_strategy(name):
    """A tf.distribute strategy (TensorFlow) or None (nothing to do / JAX).

    Raises:
        UserInputError: for an unknown name or a multi-worker run without
            TF_CONFIG.
    """
    if name not in DISTRIBUTIONS:
        raise UserInputError(
            f"unknown distribution {name!r}; choose one of {', '.join(DISTRIBUTIONS)}"
        )
    if name == "none":
        return None
    import keras  # here, not above: the command lines' --help reads DISTRIBUTIONS without Keras

    backend = keras.backend.backend()
    if backend == "jax":
        if name == "multiworker":
            raise UserInputError(
                "multiworker on the JAX backend needs jax.distributed.initialize() by the "
                "launcher; use --distribute mirrored per host"
            )
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return None
    if backend != "tensorflow":
        raise UserInputError(f"--distribute is supported on tensorflow and jax, not {backend}")
    if name not in _STRATEGIES:
        _STRATEGIES[name] = _new_strategy(name)
    return _STRATEGIES[name]


# One strategy per kind and process: two MirroredStrategy objects over the same
# devices number their collectives alike, and the second one's all-reduces meet
# the first one's ("Shape mismatch in the collective instance").
_STRATEGIES = {}


def _new_strategy(name):
    import tensorflow as tf

    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        # Without GPUs MirroredStrategy would take one CPU; logical CPUs
        # (tf.config.set_logical_device_configuration) are what there is to mirror.
        return tf.distribute.MirroredStrategy(
            [device.name for device in tf.config.list_logical_devices("CPU")]
        )
    if not _tf_config().get("cluster"):
        raise UserInputError(
            "--distribute multiworker needs the TF_CONFIG variable with a cluster; see the README, "
            "'Training on several devices and machines'"
        )
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _patch_keras_multiworker_reduce()
    return strategy


def _patch_keras_multiworker_reduce():
    """Works around Keras 3's scalar-log reduction under multi-worker training.

    Keras 3.15 reduces each per-replica log with `strategy.reduce("MEAN", v,
    axis=0)` under MultiWorkerMirroredStrategy, which fails for the scalar loss
    and metrics (keras-team/keras#20585). Scalars need `axis=None`.
    """
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "_keras_attention_patched", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        import tensorflow as tf

        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):

            def reduce_mean(value):
                rank = value.values[0].shape.rank if hasattr(value, "values") else value.shape.rank
                return strategy.reduce("MEAN", value, axis=0 if rank else None)

            return tf.nest.map_structure(reduce_mean, values)
        return original(values, strategy, reduction)

    reduce_per_replica._keras_attention_patched = True
    trainer.reduce_per_replica = reduce_per_replica


def prepare_model(model, strategy, sample_batch):
    """Builds `model`'s training state from a local batch before `fit`.

    Keras 3.15 builds under a strategy by all-reducing the first *data* batch
    across workers, which MultiWorkerMirroredStrategy cannot do for integer
    token ids (keras-team/keras#20585); building from a local batch is what the
    reduction was for. A no-op without a multi-worker strategy.
    """
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return

    def symbolic_build(iterator=None, data_batch=None):
        with strategy.scope():
            model._symbolic_build(data_batch=sample_batch)

    model._maybe_symbolic_build = symbolic_build


def writes_run_directory(name):
    """Whether this process writes the run directory under distribution `name`."""
    return name != "multiworker" or is_chief()


def worker_run_path(out, name):
    """Where this process keeps its run files: `out`, or for a non-chief worker of a
    multi-worker run a folder beside it named after its task (removed when it ends)."""
    if writes_run_directory(name):
        return out
    task = _tf_config()["task"]
    return f"{os.path.normpath(out)}.workertemp_{task.get('type')}_{task.get('index', 0)}"


def is_multiworker(strategy):
    if strategy is None:
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def shard_by_data(dataset, strategy):
    """Each worker of a multi-worker run reads its share of every global batch.

    The pipelines' datasets come from in-memory tensors, not files, so they are
    sharded by element (what AUTO falls back to, with a warning).
    """
    if not is_multiworker(strategy):
        return dataset
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def unreplicated(model, build_model):
    """A copy of `model` outside any strategy, built by `build_model()`.

    Evaluation, generation and saving after `fit` run on the chief alone; a
    model whose variables live under a multi-worker strategy would wait there
    for the other workers' collectives.
    """
    copy = build_model()
    copy.set_weights(model.get_weights())
    return copy


def strategy_scope(strategy):
    """`strategy.scope()`, or a no-op context when there is no strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def replicas(strategy):
    return strategy.num_replicas_in_sync if strategy is not None else 1
