"""Small helpers shared by the reliability tests."""


def truncate(path, keep=0.5):
    """Cuts a file to `keep` of its size, as a full disk or a killed copy leaves it."""
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(data[: int(len(data) * keep)])


def one_line_error(captured):
    """The stderr of a CLI run, checked to be one `error: ...` line and no traceback."""
    error = captured.err.strip()
    assert error.startswith("error: "), error
    assert "\n" not in error and "Traceback" not in error, error
    return error
