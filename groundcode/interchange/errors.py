"""The one error every interchange reader and writer raises."""

from __future__ import annotations


class InterchangeError(ValueError):
    """A REFI-QDA file that cannot be read or written; the message names the file or element and problem."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem
