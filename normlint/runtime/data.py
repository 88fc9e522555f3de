"""CIFAR-10 for the smoke train: the embedded subset, an image-folder directory or .tar.gz, or keras.datasets.

Image-folder layout (as in shared/data/cifar10-jpg.tar.gz): ``[top/]train/<class>/*.jpg`` and
``[top/]test/<class>/*.jpg``. Labels are the class folders in sorted order.
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np

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


def load_image_folder(path: Path, where: str | None = None) -> Dataset:
    where = where or str(path)
    if not path.exists():
        raise DataError(f"{where}: no such file or directory")
    items = _tar_items(path) if path.is_file() else _dir_items(path)
    split: dict[str, list[tuple[str, np.ndarray]]] = {"train": [], "test": []}
    for part, cls, name, data in items:
        split[part].append((cls, _decode(data, name, where)))
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
    return Dataset(x_train, y_train, x_test, y_test, classes, where)


def load_keras() -> Dataset:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # no cache and no network, a broken download...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"keras.datasets.cifar10 could not be loaded (no cache and no download?): {first}") from None
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    return Dataset(x_train, y_train.reshape(-1), x_test, y_test.reshape(-1), classes, "keras.datasets.cifar10")


def load_cifar(spec: str, subset: int | None = None, seed: int = 0) -> Dataset:
    if spec == "embedded":
        with resources.as_file(resources.files("normlint") / "data" / EMBEDDED) as p:
            ds = load_image_folder(Path(p), "embedded CIFAR-10 subset")
    elif spec == "keras":
        ds = load_keras()
    else:
        ds = load_image_folder(Path(spec), f"--data {spec}")
    order = np.random.default_rng(seed).permutation(len(ds.x_train))
    if subset is not None:
        order = order[:subset]
    ds.x_train, ds.y_train = ds.x_train[order], ds.y_train[order]
    return ds
