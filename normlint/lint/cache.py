"""A persistent result cache for ``normlint lint --cache-dir DIR``: one file's findings, keyed by
everything that decides them.

The key hashes the file's text and its path as given (findings carry the path; per-file ignores match
it), the configuration (selection, ignores, options: ``repr`` of the Config), whether fixes are placed,
and a fingerprint of the linter itself: the bytes of every module of the normlint package, the Python
version (its grammar decides NL000) and libcst's version. A change to any of them is another key, so
a cached result can never be stale; old entries are simply never read again (delete the folder to
reclaim the space). A cache that cannot be read or written (a read-only folder, a corrupt entry) is a
miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from normlint.config import Config
from normlint.lint.engine import Finding
from normlint.lint.fixes import Edit, Fix
from normlint.records import asdict

_FORMAT = 1


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """normlint's own code, the running Python and libcst: a result cached under another is never read."""
    digest = hashlib.sha256(f"normlint-cache-{_FORMAT}\0{sys.version}\0".encode())
    try:
        digest.update(metadata.version("libcst").encode())
    except metadata.PackageNotFoundError:
        pass
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


class ResultCache:
    def __init__(self, directory: str | os.PathLike[str], config: Config, fixes: bool) -> None:
        self.directory = Path(directory)
        self.salt = hashlib.sha256(f"{fingerprint()}\0{config!r}\0{fixes}".encode()).hexdigest()

    def key(self, path: str, source: str) -> str:
        digest = hashlib.sha256(f"{self.salt}\0{path}\0".encode())
        digest.update(source.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def _file(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[Finding] | None:
        try:
            data = json.loads(self._file(key).read_text(encoding="utf-8"))
            return [_finding(d) for d in data]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, findings: list[Finding]) -> None:
        target = self._file(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump([asdict(f) for f in findings], out)  # the fix (a record of Edits) too
            os.replace(tmp, target)  # readers see the whole entry or none
        except OSError:
            pass


def _finding(d: dict) -> Finding:
    fix = d.pop("fix")
    if fix is not None:
        fix = Fix(fix["message"], fix["applicability"], tuple(Edit(**e) for e in fix["edits"]))
    return Finding(**d, fix=fix)
