"""CIFAR-10 for the smoke train: the embedded subset, an image-folder directory or .tar.gz, or keras.datasets.

Image-folder layout (as in shared/data/cifar10-jpg.tar.gz): ``[top/]train/<class>/*.jpg`` and
``[top/]test/<class>/*.jpg``. Labels are the class folders in sorted order.

Decoding 60,000 JPEGs is most of a GPU smoke run's wall time, so large sets are decoded by a pool of
processes, and the decoded arrays of an archive are cached (``$NORMLINT_CACHE_DIR``, else
``$XDG_CACHE_HOME/normlint`` or ``~/.cache/normlint``) under the SHA-256 of the archive's bytes: a changed
archive can never be served from a stale cache. Needs numpy and pillow, never TensorFlow.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import tarfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np

CACHE_VERSION = 1  # bump when decoding changes, so older cache files are never read
PARALLEL_FROM = 4000  # images; below this a process pool costs more than it saves

EMBEDDED = "cifar10-subset.tar.gz"
_MEMBER = re.compile(r"(?:^|/)(train|test)/([^/]+)/[^/]+\.(?:jpe?g|png)$", re.I)


class DataError(Exception):
    """A one-line reason the data cannot be used."""


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    source: str

    def describe(self) -> str:
        return f"{self.source}: {len(self.x_train)} train / {len(self.x_test)} test images, {len(self.classes)} classes"


def _decode(data: bytes, name: str, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{where}: cannot decode image {name}: {exc}") from None


def _decode_chunk(chunk: list[tuple[str, bytes]], where: str) -> np.ndarray | list[np.ndarray] | str:
    try:
        images = [_decode(data, name, where) for name, data in chunk]
    except DataError as exc:  # crosses the process boundary as text
        return str(exc)
    # one array pickles far faster than thousands of small ones
    return np.stack(images) if len({img.shape for img in images}) == 1 else images


def decode_all(named: list[tuple[str, bytes]], where: str, workers: int | None = None) -> list[np.ndarray]:
    """Decode images in order; a pool of processes for large sets (fork where no framework is loaded yet)."""
    workers = workers or min(os.cpu_count() or 1, 16)
    if workers < 2 or len(named) < PARALLEL_FROM:
        return [_decode(data, name, where) for name, data in named]
    import multiprocessing
    from functools import partial

    frameworks = ("tensorflow", "jax", "torch")
    method = "spawn" if any(m in sys.modules for m in frameworks) or sys.platform != "linux" else "fork"
    size = -(-len(named) // (workers * 4))
    chunks = [named[i:i + size] for i in range(0, len(named), size)]
    try:
        with multiprocessing.get_context(method).Pool(workers) as pool:
            parts = pool.map(partial(_decode_chunk, where=where), chunks)
    except (OSError, RuntimeError):  # no processes to be had: decode here
        return [_decode(data, name, where) for name, data in named]
    out: list[np.ndarray] = []
    for part in parts:
        if isinstance(part, str):
            raise DataError(part)
        out.extend(part)
    return out


def cache_dir() -> Path | None:
    """Where decoded archives are kept; None when ``NORMLINT_CACHE_DIR`` is ``off``."""
    explicit = os.environ.get("NORMLINT_CACHE_DIR")
    if explicit:
        return None if explicit.lower() in ("off", "0", "none") else Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "normlint"


def _archive_key(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"cifar-v{CACHE_VERSION}-{digest.hexdigest()[:32]}"


def _cache_load(where_dir: Path | None, key: str, where: str) -> Dataset | None:
    if where_dir is None:
        return None
    file = where_dir / f"{key}.npz"
    try:
        with np.load(file, allow_pickle=False) as z:
            return Dataset(z["x_train"], z["y_train"], z["x_test"], z["y_test"], [str(c) for c in z["classes"]], where)
    except (OSError, KeyError, ValueError, EOFError):  # absent, half-written or foreign: decode anew
        return None


def _cache_store(where_dir: Path | None, key: str, ds: Dataset) -> None:
    if where_dir is None:
        return
    try:
        where_dir.mkdir(parents=True, exist_ok=True)
        tmp = where_dir / f".{key}.{os.getpid()}.tmp.npz"
        np.savez(tmp, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test,
                 classes=np.array(ds.classes))
        os.replace(tmp, where_dir / f"{key}.npz")  # atomic: a reader sees the old file or the whole new one
    except OSError:  # a read-only or full disk only costs the next run the decode
        try:
            tmp.unlink()
        except (OSError, UnboundLocalError):
            pass


def _tar_items(path: Path) -> Iterator[tuple[str, str, str, bytes]]:
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                m = _MEMBER.search(member.name) if member.isfile() else None
                if m:
                    f = tar.extractfile(member)
                    if f is not None:
                        yield m.group(1).lower(), m.group(2), member.name, f.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a readable .tar.gz archive ({exc})") from None


def _dir_items(path: Path) -> Iterator[tuple[str, str, str, bytes]]:
    for file in sorted(path.rglob("*")):
        rel = file.relative_to(path).as_posix()
        m = _MEMBER.search(rel)
        if m and file.is_file():
            yield m.group(1).lower(), m.group(2), rel, file.read_bytes()


def load_image_folder(path: Path, where: str | None = None, cache: bool = True) -> Dataset:
    where = where or str(path)
    if not path.exists():
        raise DataError(f"{where}: no such file or directory")
    folder = cache_dir() if cache and path.is_file() else None
    key = _archive_key(path) if folder is not None else ""
    cached = _cache_load(folder, key, where)
    if cached is not None:
        return cached
    items = list(_tar_items(path) if path.is_file() else _dir_items(path))
    images = decode_all([(name, data) for _, _, name, data in items], where)
    split: dict[str, list[tuple[str, np.ndarray]]] = {"train": [], "test": []}
    for (part, cls, _, _), img in zip(items, images):
        split[part].append((cls, img))
    if not split["train"] or not split["test"]:
        missing = "train" if not split["train"] else "test"
        raise DataError(
            f"{where}: no {missing}/<class>/*.jpg images found (expected train/<class>/*.jpg and test/<class>/*.jpg)"
        )
    classes = sorted({c for c, _ in split["train"]})
    unknown = sorted({c for c, _ in split["test"]} - set(classes))
    if unknown:
        raise DataError(f"{where}: test classes {unknown} have no training images")
    shapes = {img.shape for part in split.values() for _, img in part}
    if len(shapes) != 1:
        raise DataError(f"{where}: images of different sizes {sorted(shapes)[:3]}: all must share one size")
    index = {c: i for i, c in enumerate(classes)}

    def arrays(part):
        x = np.stack([img for _, img in split[part]])
        y = np.array([index[c] for c, _ in split[part]], dtype=np.int64)
        return x, y

    x_train, y_train = arrays("train")
    x_test, y_test = arrays("test")
    ds = Dataset(x_train, y_train, x_test, y_test, classes, where)
    _cache_store(folder, key, ds)
    return ds


def load_keras() -> Dataset:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # no cache and no network, a broken download...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"keras.datasets.cifar10 could not be loaded (no cache and no download?): {first}") from None
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    return Dataset(x_train, y_train.reshape(-1), x_test, y_test.reshape(-1), classes, "keras.datasets.cifar10")


def load_cifar(spec: str, subset: int | None = None, seed: int = 0, cache: bool = True) -> Dataset:
    if spec == "embedded":
        with resources.as_file(resources.files("normlint") / "data" / EMBEDDED) as p:
            ds = load_image_folder(Path(p), "embedded CIFAR-10 subset", cache)
    elif spec == "keras":
        ds = load_keras()
    else:
        ds = load_image_folder(Path(spec), f"--data {spec}", cache)
    order = np.random.default_rng(seed).permutation(len(ds.x_train))
    if subset is not None:
        order = order[:subset]
    ds.x_train, ds.y_train = ds.x_train[order], ds.y_train[order]
    return ds
