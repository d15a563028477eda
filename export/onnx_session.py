"""onnxruntime sessions and the exported `onnx/config.json`, shared by every task's runner.

Imports no TensorFlow: a service installs `onnxruntime numpy tokenizers` and
copies the `onnx/` folder of an exported version.
"""

import json
import os

import onnxruntime

from pipelines.common.errors import UserInputError

CONFIG_FILE = "config.json"
CPU_PROVIDER = "CPUExecutionProvider"
FLOAT32 = "float32"
INT8 = "int8"
PRECISIONS = (FLOAT32, INT8)
QUANTIZATIONS = (INT8,)  # what `python -m export --quantize` can add to the float files


def session_options(intra_op_threads=1, optimization="all", inter_op_threads=1):
    """onnxruntime options: thread counts and graph optimization level.

    Args:
        intra_op_threads: int. Threads inside one operator. Defaults to 1,
            the fastest setting for these small graphs at batch 1 on 2 cores
            (benchmarks/inference.py measures 1 and 2); for throughput, run
            one session per core. With more than one thread, idle threads do
            not spin, which costs little and helps on shared CPUs.
        optimization: `"all"` (default), `"extended"`, `"basic"` or `"disabled"`.
        inter_op_threads: int. Threads running independent operators at once.
            Defaults to 1: sequential execution (these graphs are chains).
    """
    levels = {
        "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disabled": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }
    if optimization not in levels:
        raise ValueError(f"`optimization` must be one of {sorted(levels)}. Received: {optimization!r}")
    for name, value in (("intra_op_threads", intra_op_threads), ("inter_op_threads", inter_op_threads)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    options.execution_mode = (
        onnxruntime.ExecutionMode.ORT_SEQUENTIAL if inter_op_threads == 1 else onnxruntime.ExecutionMode.ORT_PARALLEL
    )
    options.graph_optimization_level = levels[optimization]
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def checked_providers(providers):
    """`providers` (names or `(name, options)` pairs) if this onnxruntime has them all;
    None means CPU. A user error names the missing ones and those available."""
    if providers is None:
        return [CPU_PROVIDER]
    providers = list(providers)
    available = onnxruntime.get_available_providers()
    missing = [p for p in providers if (p[0] if isinstance(p, (tuple, list)) else p) not in available]
    if not providers or missing:
        raise UserInputError(
            f"execution providers {missing or providers} are not available in this onnxruntime "
            f"build; choose from {available} (a GPU needs the onnxruntime-gpu package)"
        )
    return providers


def create_session(path, intra_op_threads=1, optimization="all", providers=None, inter_op_threads=1):
    """An onnxruntime session of the file `path`; a user error if it is missing or not ONNX.

    `providers`: onnxruntime execution providers in order of preference
    (e.g. `["CUDAExecutionProvider", "CPUExecutionProvider"]`); CPU by default.
    """
    path = os.fspath(path)
    options = session_options(intra_op_threads, optimization, inter_op_threads)
    providers = checked_providers(providers)
    if not os.path.isfile(path):
        raise UserInputError(f"{path} not found; copy the whole onnx/ folder of an exported version")
    try:
        return onnxruntime.InferenceSession(path, sess_options=options, providers=providers)
    except Exception as error:  # onnxruntime's InvalidProtobuf, Fail, ... share no base class
        reason = str(error).strip().splitlines()[0]
        raise UserInputError(
            f"{path}: not a loadable ONNX model ({reason}); it is truncated or corrupted — export the run again"
        ) from None


def read_onnx_config(onnx_dir):
    path = os.path.join(onnx_dir, CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise UserInputError(f"{path} not found; pass the onnx/ folder of an exported version") from None
    except ValueError as error:
        raise UserInputError(f"{path}: not valid JSON ({error}); export the run again") from None


def model_path(onnx_dir, config, key, precision=FLOAT32):
    """The path of the model file named `config[key]`, or of its int8 copy.

    An export with `--quantize int8` lists the int8 files under
    `config["int8"]`, by the same keys as the float ones.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}. Received: precision={precision!r}")
    if precision == FLOAT32:
        return os.path.join(onnx_dir, config[key])
    if key not in config.get(precision, {}):
        raise UserInputError(
            f"{os.path.join(onnx_dir, CONFIG_FILE)} lists no {precision} model; "
            f"export the run again with --quantize {precision}, or load it with precision={FLOAT32!r}"
        )
    return os.path.join(onnx_dir, config[precision][key])
