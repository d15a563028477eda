"""Which `quantize_dynamic` settings keep an exported classifier's labels: the measurement behind
export/quantization.py.

    python benchmarks/int8_settings.py saved_models/sst2/1 [--texts dev.tsv] [--rows 3000]

Quantizes the version's float `classifier.onnx` (in a temporary folder) with
per-tensor and per-channel weight scales, 7-bit weights (`reduce_range`) and
`quant_pre_process` first (its symbolic shape inference skipped: it needs
sympy), and prints for each: the labels that differ from the float file's on
the texts (batches of 32), the accuracy when the texts have labels, and the
file size. Choose on dev texts, never on the test file.
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

BATCH = 32
VARIANTS = {
    "per tensor": {"per_channel": False},
    "per channel (export's)": {"per_channel": True},
    "per channel, 7-bit weights": {"per_channel": True, "reduce_range": True},
    "quant_pre_process, per tensor": {"per_channel": False, "pre_process": True},
    "quant_pre_process, per channel": {"per_channel": True, "pre_process": True},
}


def main():
    import numpy as np
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from export.classifier.int8_parity import accuracy
    from export.classifier.onnx_runner import OnnxClassifier
    from export.onnx_session import create_session
    from export.onnx_session import model_path
    from export.onnx_session import read_onnx_config
    from pipelines.common.tables import read_table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version_dir", help="an exported classifier's saved_models/NAME/VERSION folder")
    parser.add_argument("--texts", default=os.path.join("..", "shared", "data", "sst2", "dev.tsv"))
    parser.add_argument("--text-column", default="sentence")
    parser.add_argument("--label-column", default="label", help="'' for texts without labels")
    parser.add_argument("--rows", type=int, default=3000)
    arguments = parser.parse_args()

    onnx_dir = os.path.join(arguments.version_dir, "onnx")
    float_path = model_path(onnx_dir, read_onnx_config(onnx_dir), "model_file")
    table = read_table(arguments.texts, arguments.text_column, arguments.label_column or None)
    texts = table.texts[: arguments.rows]
    classifier = OnnxClassifier.load(onnx_dir)
    token_ids = [classifier.tokenize(texts[start : start + BATCH]) for start in range(0, len(texts), BATCH)]

    def label_ids():
        return np.concatenate([classifier.predict_token_ids(batch).argmax(axis=-1) for batch in token_ids])

    float_ids = label_ids()
    print(f"{len(texts)} texts from {arguments.texts}, batches of {BATCH}; float file "
          f"{os.path.getsize(float_path) / 1e6:.2f} MB; load average {os.getloadavg()[0]:.1f}")
    print(f"{'setting':<34}{'labels ≠ float':>16}{'agreement':>11}{'accuracy':>10}{'MB':>8}")
    if table.labels is not None:
        print(f"{'float32':<34}{0:>16}{1:>11.2%}{accuracy(float_ids, table.labels[: len(texts)], classifier.labels):>10.4f}")
    with tempfile.TemporaryDirectory() as folder:
        for name, settings in VARIANTS.items():
            settings = dict(settings)
            source = float_path
            if settings.pop("pre_process", False):
                source = os.path.join(folder, "pre_processed.onnx")
                quant_pre_process(float_path, source, skip_symbolic_shape=True)
            int8_path = os.path.join(folder, "int8.onnx")
            quantize_dynamic(source, int8_path, weight_type=QuantType.QInt8, **settings)
            classifier.session = create_session(int8_path)
            int8_ids = label_ids()
            line = f"{name:<34}{int((int8_ids != float_ids).sum()):>16}{np.mean(int8_ids == float_ids):>11.2%}"
            if table.labels is not None:
                line += f"{accuracy(int8_ids, table.labels[: len(texts)], classifier.labels):>10.4f}"
            else:
                line += f"{'—':>10}"
            print(line + f"{os.path.getsize(int8_path) / 1e6:>8.2f}")


if __name__ == "__main__":
    main()
