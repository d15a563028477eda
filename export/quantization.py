"""int8 ONNX files: onnxruntime's dynamic quantization of the exported float files.

`python -m export ... --quantize int8` writes, beside each float file of the
task (`classifier.onnx`; `encoder.onnx` and `decoder_step.onnx`), its int8
copy (named by `layout.int8_onnx_file`) and lists them in `onnx/config.json`
under `"int8"`, by the same keys as the float files; the runners load them
with `precision="int8"`. Each task's `int8_parity.py` then compares them with
the float files in the parity gate.

Dynamic quantization stores the weights of `MatMul` and `Gather` (embedding
tables) as int8 and quantizes activations to uint8 at run time, one scale per
tensor; nothing needs calibration data. Settings, chosen on the first 3,000
SST-2 dev phrases (labels of the int8 file against the float one, measured by
benchmarks/int8_settings.py; the test figures are in BENCHMARKS.md, "int8 ONNX"):

- per-channel weight scales (`per_channel=True`): the fine-tuned MiniLM
  differs from the float model on 14 of the 3,000 (99.53% agreement), against
  40 (98.67%) with one scale per weight tensor; 7-bit weights
  (`reduce_range`) gave 16. The from-scratch model differs on 0-3 with any of
  the three;
- no `quant_pre_process`: its ONNX shape inference and graph optimization gave
  the same test-set agreement for both models and the same quantized kernels (onnxruntime optimizes the
  graph at load anyway); its symbolic shape inference needs sympy, which
  onnxruntime does not install.
"""

import os

import onnxruntime
from onnxruntime.quantization import QuantType
from onnxruntime.quantization import quantize_dynamic

from export import layout
from export.onnx_conversion import checked_session
from export.onnx_session import CONFIG_FILE
from export.onnx_session import INT8
from export.onnx_session import QUANTIZATIONS
from export.onnx_session import read_onnx_config
from pipelines.common.atomic import write_json_atomic

PER_CHANNEL = True


def quantization_settings():
    """What `config.json` and `parity.json` record about how the int8 files were made."""
    return {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weight_type": "QInt8",
        "per_channel": PER_CHANNEL,
        "onnxruntime": onnxruntime.__version__,
    }


def quantize_file(float_path, int8_path):
    """Writes the int8 copy of the ONNX file `float_path`; returns its onnxruntime session."""
    quantize_dynamic(float_path, int8_path, per_channel=PER_CHANNEL, weight_type=QuantType.QInt8)
    return checked_session(int8_path)


def quantize_onnx_folder(onnx_dir, file_keys, quantization=INT8):
    """Quantizes the model files `config[key]` of an exported `onnx/` folder and lists them.

    Args:
        onnx_dir: str. The `onnx/` folder, with its config.json.
        file_keys: tuple of str. The config.json keys naming the task's model
            files (`TaskExport.onnx_model_files`).
        quantization: str. `"int8"`, the one supported.

    Returns:
        `{key: int8 file name}`, as recorded in config.json under `"int8"`.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"`quantization` must be one of {QUANTIZATIONS}. Received: {quantization!r}")
    config = read_onnx_config(onnx_dir)
    int8_files = {}
    for key in file_keys:
        int8_files[key] = layout.int8_onnx_file(config[key])
        quantize_file(os.path.join(onnx_dir, config[key]), os.path.join(onnx_dir, int8_files[key]))
    config[INT8] = {**int8_files, "quantization": quantization_settings()}
    write_json_atomic(os.path.join(onnx_dir, CONFIG_FILE), config)
    return int8_files
