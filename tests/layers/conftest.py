import keras
import pytest


@pytest.fixture(autouse=True)
def deterministic_float32():
    """Seeds every test and restores the float32 policy however it ends."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
