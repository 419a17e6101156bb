"""Writing an output file without ever destroying one: refuse, write beside, rename into place.

Policy, shared by every command that writes a recording (``record``, ``redact``, ``synth``):

* An existing output is refused (one line naming it and ``--force``) unless ``force`` is given.
* Data goes to ``FILE.partial`` beside the target (same directory, so the rename is atomic),
  created exclusively: a leftover ``FILE.partial`` (a killed recorder's data) is refused too,
  never overwritten, even with ``force``.
* :func:`commit` renames the partial file into place; without ``force`` it links instead of
  replacing, so a target that appeared meanwhile is not overwritten either.
  :func:`discard` removes the partial file: the target is exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from harness.errors import UsageError

PARTIAL_SUFFIX = ".partial"


def check_distinct(
    source: str | os.PathLike[str], dest: str | os.PathLike[str], command: str
) -> None:
    """Refuse an output that is the input itself (same path, or a link to the same file)."""
    if same_file(source, dest):
        raise UsageError(f"{command} writes a new file: -o must differ from the input")


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when both names are one file (same path, or links to the same inode)."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def partial_path(path: str | os.PathLike[str]) -> Path:
    """Where the data of ``path`` lives until it is complete: ``FILE.partial``."""
    target = Path(path)
    return target.with_name(target.name + PARTIAL_SUFFIX)


def check_output(path: str | os.PathLike[str], *, force: bool) -> None:
    """Refuse an output that exists (unless ``force``), is a directory, or has a partial file."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{target} is a directory, not a file")
    if target.exists() and not force:
        raise UsageError(f"{target} exists: refusing to overwrite it (use --force to replace it)")
    partial = partial_path(target)
    if partial.exists():
        raise UsageError(f"{partial} exists (data of an interrupted run?): move or delete it first")


def create_partial(path: str | os.PathLike[str], *, force: bool) -> BinaryIO:
    """Check ``path``, then create its partial file exclusively, open for writing."""
    check_output(path, force=force)
    partial = partial_path(path)
    try:
        return open(partial, "xb")
    except FileExistsError:
        raise UsageError(f"{partial} exists: another run is writing it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {os.fspath(path)}: {exc.strerror}") from None


def commit(path: str | os.PathLike[str], *, force: bool) -> None:
    """Move the finished partial file into place at ``path``."""
    target, partial = Path(path), partial_path(path)
    try:
        if force:
            os.replace(partial, target)
            return
        try:
            os.link(partial, target)
        except FileExistsError:
            raise UsageError(
                f"{target} appeared while writing: kept the new data in {partial}"
            ) from None
        except OSError:  # no hard links here: check, then rename
            if target.exists():
                raise UsageError(
                    f"{target} appeared while writing: kept the new data in {partial}"
                ) from None
            os.replace(partial, target)
            return
        partial.unlink()
    except OSError as exc:
        raise UsageError(f"cannot move {partial} to {target}: {exc.strerror}") from None


def discard(path: str | os.PathLike[str]) -> None:
    """Remove the partial file of ``path`` (nothing worth keeping was written)."""
    with contextlib.suppress(FileNotFoundError):
        partial_path(path).unlink()


@contextlib.contextmanager
def safe_output(path: str | os.PathLike[str], *, force: bool) -> Iterator[BinaryIO]:
    """A stream to ``FILE.partial``, renamed to ``path`` when the block succeeds.

    On any exception the partial file is removed and ``path`` is untouched.
    """
    stream = create_partial(path, force=force)
    try:
        with stream:
            yield stream
    except BaseException:
        discard(path)
        raise
    commit(path, force=force)
