"""The one error the ingest path raises for files it cannot use."""

from __future__ import annotations


class UnreadableFileError(ValueError):
    """A file groundcode cannot import; the message names the file and says why in plain words."""

    def __init__(self, filename: str, problem: str) -> None:
        super().__init__(f"{filename}: {problem}")
        self.filename = filename
        self.problem = problem

    def __reduce__(self) -> tuple[type[UnreadableFileError], tuple[str, str]]:
        # Exceptions are pickled by their ``args`` (here the joined message), which would not fit
        # ``__init__``; rebuild from the two parts so the error survives a worker boundary.
        return (type(self), (self.filename, self.problem))
