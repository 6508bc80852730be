"""The errors a researcher or operator is shown, in a module any layer (and the command line, before it has
loaded the database) can import cheaply."""

from __future__ import annotations


class AccountError(ValueError):
    """A user, password or membership request that cannot be carried out (the message says why)."""


class NotFoundError(LookupError):
    """A named project, source or codebook does not exist."""

    def for_operator(self) -> str:
        """The message for the local operator, who may see every project (over HTTP: ``str``)."""
        return str(self)


class CodebookRaceError(RuntimeError):
    """Another writer stored the same codebook version at the same moment; reload and edit again."""


class UnknownProjectError(NotFoundError):
    """No project has the name; the operator's message names the projects there are (a typo in ``-p`` is
    the usual cause). Over HTTP only the plain message: members must not learn other projects' names."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no project named {name!r}; run 'groundcode init' or import a file first")
        self.name = name
        self.known = known

    def for_operator(self) -> str:
        if not self.known:
            return str(self)
        return (
            f"no project named {self.name!r}; the projects here are {', '.join(map(repr, self.known))} "
            f"(create a new one with 'groundcode init -p {self.name}', or an import's --create)"
        )


class NoDatabaseError(NotFoundError):
    """A command that only reads found no groundcode database where the settings point: it does not create
    an empty one (a command run in the wrong folder would leave one behind)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"no groundcode database at {path}: run 'groundcode init -p NAME' or 'groundcode import FILES' "
            "first, or point GROUNDCODE_DATA_DIR (or GROUNDCODE_DATABASE_URL) at an existing one"
        )
