"""The one error every interchange reader and writer raises."""

from __future__ import annotations


class InterchangeError(ValueError):
    """A REFI-QDA file that cannot be read or written; the message names the file or element and problem."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem

    def __reduce__(self) -> tuple[type[InterchangeError], tuple[str, str]]:
        # Rebuilt from both parts (not the joined message), so the error survives the bounded reader's
        # process boundary.
        return (type(self), (self.where, self.problem))
