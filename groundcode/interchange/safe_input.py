"""Defences against hostile input: XML without DTDs or entities, and zip archives (.qdpx, .docx) within
limits, checked on the archive's directory before any member is unpacked.

Nothing here writes to disk: archive members are read into memory on demand, so a member name is only
ever a lookup key; unsafe names are still refused, because a file that carries them is not a genuine export.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from typing import cast

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from groundcode.interchange.errors import InterchangeError

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


def parse_xml(data: bytes | str, where: str) -> etree._Element:
    """Parse XML without resolving entities or touching the network, and refuse any DOCTYPE.

    A ``str`` has been decoded already, so its encoding declaration is overridden with UTF-8.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    encoding = "utf-8" if isinstance(data, str) else None
    prolog_check = etree.XMLParser(
        target=cast("etree.ParserTarget[None]", _PrologCheck()),
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    try:
        etree.fromstring(raw, prolog_check)
    except _DoctypeFound as found:
        raise InterchangeError(
            where,
            f"a DOCTYPE declaration ({found}) is not allowed: REFI-QDA files need none, "
            "and it can declare entities that expand without bound or read local files",
        ) from None
    except (_RootReached, etree.XMLSyntaxError):
        pass  # no DOCTYPE before the root element; syntax errors are reported by the real parse below
    parser = etree.XMLParser(
        encoding=encoding, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as error:
        raise InterchangeError(where, f"not well-formed XML: {error}") from error


class _DoctypeFound(Exception):
    pass


class _RootReached(Exception):
    pass


class _PrologCheck:
    """A parser target that stops at the root element, or at a DOCTYPE before it: a DOCTYPE can only come
    before the root, and this stops the parse before any entity it declares is read or expanded."""

    def doctype(self, root_tag: str | None, public_id: str | None, system_id: str | None, /) -> None:
        raise _DoctypeFound(f"<!DOCTYPE {root_tag}>")

    def start(self, tag: str, attrib: dict[str, str], /) -> None:
        raise _RootReached

    def close(self) -> None:
        return None


class ArchiveLimits(BaseModel):
    """How much a zip archive may unpack to before it is refused as a zip bomb.

    The sizes are the ones the archive declares; ``zipfile`` never unpacks a member past its declared
    size, so checking them bounds what reading the members can cost.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_members: int = Field(default=10_000, ge=1)
    max_total_bytes: int = Field(default=1 << 30, ge=1)  # declared uncompressed size of all members
    max_member_bytes: int = Field(default=1 << 28, ge=1)  # declared uncompressed size of any one member
    max_ratio: float = Field(default=200.0, gt=1)  # uncompressed / compressed, per member
    ratio_floor_bytes: int = Field(default=1 << 20, ge=0)  # smaller members cannot hurt, whatever their ratio


class QdpxArchive:
    """A .qdpx (zip) archive whose member names, count and sizes have been checked; members read on demand."""

    def __init__(self, data: bytes, where: str, limits: ArchiveLimits) -> None:
        self.where = where
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as error:
            raise InterchangeError(where, f"not a readable .qdpx (zip) archive: {error}") from error
        infos = self._zip.infolist()
        try:
            check_members(infos, limits)
        except UnsafeArchiveError as error:
            raise InterchangeError(where, str(error)) from error
        self._members = {info.filename.lower(): info for info in infos if not info.is_dir()}
        project_files = [name for name in self._members if "/" not in name and name.endswith(".qde")]
        if len(project_files) != 1:
            found = ", ".join(sorted(project_files)) or "none"
            raise InterchangeError(
                where, f"expected exactly one .qde project file at the top level; found {found}"
            )
        self._project = self._members[project_files[0]]
        self.project_member = self._project.filename

    def project_xml(self) -> bytes:
        """The bytes of the archive's .qde project file."""
        return self._read(self._project)

    def read(self, name: str) -> bytes | None:
        """The member's bytes (names compared case-insensitively, as vendors vary), or None if absent."""
        info = self._members.get(name.lower())
        return None if info is None else self._read(info)

    def _read(self, info: zipfile.ZipInfo) -> bytes:
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError) as error:
            raise InterchangeError(f"{self.where}/{info.filename}", f"cannot be unpacked: {error}") from error

    def close(self) -> None:
        self._zip.close()


class UnsafeArchiveError(ValueError):
    """A zip archive refused before unpacking; the message says why, callers add the file name."""


def check_members(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """Refuse an archive by its directory alone: member count, names, per-member and total unpacked size,
    and compression ratio. Raises ``UnsafeArchiveError``."""
    if len(infos) > limits.max_members:
        raise UnsafeArchiveError(
            f"the archive has {len(infos)} members, more than the limit of {limits.max_members}"
        )
    seen: set[str] = set()
    for info in infos:
        problem = unsafe_member_name(info.filename)
        if problem:
            raise UnsafeArchiveError(f"member {info.filename!r} {problem}")
        key = info.filename.lower()
        if key in seen:
            raise UnsafeArchiveError(f"member {info.filename!r} appears twice")
        seen.add(key)
        if info.file_size > limits.max_member_bytes:
            raise UnsafeArchiveError(
                f"member {info.filename!r} would unpack to {info.file_size} bytes, more than the limit of "
                f"{limits.max_member_bytes}: refused as a zip bomb"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise UnsafeArchiveError(
                f"member {info.filename!r} would unpack {ratio:.0f} times larger than it is packed "
                f"(limit {limits.max_ratio:.0f}): refused as a zip bomb"
            )
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise UnsafeArchiveError(
            f"the archive would unpack to {total} bytes, more than the limit of {limits.max_total_bytes}: "
            "refused as a zip bomb"
        )


def unsafe_member_name(name: str) -> str | None:
    """Why an archive path must not be used (absolute, or climbing out with '..'), or None if it is safe."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or _WINDOWS_DRIVE.match(normalized):
        return "is an absolute path"
    if ".." in normalized.split("/"):
        return "climbs out of the archive with '..'"
    return None
