"""Checking the texts given to `predict`, `explain` and `generate`."""

from pipelines.common.errors import UserInputError


def check_texts(texts, what="text"):
    """`texts` as a list of str; a user error for anything that is not a list of UTF-8 texts.

    A single string is refused rather than read as a sequence of characters;
    `bytes` must decode as UTF-8; a `str` must encode as UTF-8 (lone
    surrogates, which Python makes of undecodable bytes in a command-line
    argument, do not).

    Args:
        texts: list (or other iterable) of str or bytes.
        what: str. The name of one item in messages ("text", "document").

    Returns:
        A list of str.
    """
    if isinstance(texts, (str, bytes)):
        raise UserInputError(f"expected a list of {what}s, got one string; pass a list: [{what}]")
    checked = []
    for number, text in enumerate(texts, start=1):
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as error:
                raise UserInputError(
                    f"{what} {number} is not valid UTF-8 ({error.reason} at byte {error.start}); "
                    "decode it to str or re-encode it as UTF-8"
                ) from None
        elif not isinstance(text, str):
            raise UserInputError(f"{what} {number} is a {type(text).__name__}, not a string; pass text")
        else:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise UserInputError(
                    f"{what} {number} is not valid UTF-8 (undecodable character at position "
                    f"{error.start}, e.g. from invalid bytes in a command-line argument); pass UTF-8 text"
                ) from None
        checked.append(text)
    return checked
