"""The warmup file parses as PredictionLog records and every record runs."""

import numpy as np

from export.warmup import read_warmup_file
from export.warmup import replay

from export_fixtures import MODEL_NAME


def test_every_warmup_record_parses_and_runs(version_dir, saved_model):
    logs = read_warmup_file(version_dir)
    assert len(logs) == 6
    seen = set()
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == MODEL_NAME
        outputs = replay(saved_model, log)
        batch = next(iter(request.inputs.values())).tensor_shape.dim[0].size
        seen.add((request.model_spec.signature_name, batch))
        for value in outputs.values():
            assert value.shape[0] == batch
            if value.dtype.is_floating:
                assert not np.isnan(value.numpy()).any()
    assert seen == {(name, batch) for name in ("serving_default", "predict_token_ids", "tokenize") for batch in (1, 8)}
