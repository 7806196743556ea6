"""Data sets for training: scikit-learn's bundled 8×8 digits (no download) and MNIST from IDX files.

Inputs are scaled to [0, 1] (the range of ρ), targets are one-hot vectors of floats. MNIST is read
from a directory holding the four standard IDX files, gzipped (``*.gz``) or raw. Each file is checked
against the canonical SHA-256 of its *decompressed* content, so any gzip recompression of the same
data passes and anything else is refused.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError


@dataclass
class Dataset:
    """A train/test split of a classification data set.

    Parameters
    ----------
    name : str
        The data set's name as reported (e.g. ``"digits"``, ``"mnist[:1000/200]"``).
    x_train : numpy.ndarray
        Training inputs in [0, 1], shape ``(n_train, n_inputs)``.
    y_train : numpy.ndarray
        One-hot training targets, shape ``(n_train, n_classes)``.
    x_test : numpy.ndarray
        Test inputs in [0, 1], shape ``(n_test, n_inputs)``.
    y_test : numpy.ndarray
        One-hot test targets, shape ``(n_test, n_classes)``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_inputs(self) -> int:
        """The input dimension (64 for the digits, 784 for MNIST)."""
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        """The number of classes (the targets' width)."""
        return self.y_train.shape[1]

    def astype(self, dtype: np.dtype | str) -> "Dataset":
        """The same split with images and targets in floating-point ``dtype`` (no copy if already).

        Parameters
        ----------
        dtype : numpy.dtype or str
            E.g. ``"float32"``.

        Returns
        -------
        Dataset
            The converted split.
        """
        return Dataset(self.name, *(a.astype(dtype, copy=False) for a in
                                    (self.x_train, self.y_train, self.x_test, self.y_test)))

    def validation(self, n: int, key: str = "[data] validation") -> "Dataset":
        """The last ``n`` training examples as the test set and the rest as the training set.

        For choosing hyper-parameters without looking at the test set.

        Parameters
        ----------
        n : int
            Validation examples, 0 < n < n_train.
        key : str
            The setting's name in the error message.

        Returns
        -------
        Dataset
            The split, named ``"<name> validation[-n:]"``.

        Raises
        ------
        DataError
            If ``n`` is out of range.
        """
        if not 0 < n < len(self.x_train):
            raise DataError(f"{key} = {n}: must be between 0 and the "
                            f"{len(self.x_train)} training examples of {self.name}")
        return Dataset(f"{self.name} validation[-{n}:]", self.x_train[:-n], self.y_train[:-n],
                       self.x_train[-n:], self.y_train[-n:])

    def subset(self, n_train: int, n_test: int) -> "Dataset":
        """The first ``n_train`` training and ``n_test`` test examples (for quick runs and tests).

        Parameters
        ----------
        n_train : int
            Training examples kept.
        n_test : int
            Test examples kept.

        Returns
        -------
        Dataset
            The smaller split.
        """
        return Dataset(f"{self.name}[:{n_train}/{n_test}]", self.x_train[:n_train],
                       self.y_train[:n_train], self.x_test[:n_test], self.y_test[:n_test])


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels → one-hot float targets.

    Parameters
    ----------
    labels : numpy.ndarray
        Class indices, shape ``(n,)``, each in [0, n_classes).
    n_classes : int
        The number of classes.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, n_classes)``, 1.0 at each label and 0.0 elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> print(one_hot(np.array([2, 0]), 3))
    [[0. 0. 1.]
     [1. 0. 0.]]
    """
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def load_digits(rng: np.random.Generator, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1797 images, 10 classes), pixels /16 → [0, 1].

    The split is stratified: each class contributes ``round(test_fraction · n_class)`` test
    examples drawn with ``rng``; both parts are shuffled with ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the split and the order.
    test_fraction : float
        Fraction of each class held out for testing, in (0, 1).

    Returns
    -------
    Dataset
        ``"digits"``, 64 inputs, 10 classes.

    Raises
    ------
    DataError
        If ``test_fraction`` is not in (0, 1).
    """
    from sklearn.datasets import load_digits as sk_digits

    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction = {test_fraction!r}: must be > 0 and < 1")
    bunch = sk_digits()
    x = bunch.data / 16.0
    labels = bunch.target
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        test[rng.choice(idx, int(round(test_fraction * len(idx))), replace=False)] = True
    tr, te = rng.permutation(np.flatnonzero(~test)), rng.permutation(np.flatnonzero(test))
    y = one_hot(labels, 10)
    return Dataset("digits", x[tr], y[tr], x[te], y[te])


#: SHA-256 of the decompressed IDX files as distributed by LeCun et al. (and the CVDF mirror).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def read_idx(raw: bytes, source: str) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (magic 0x0000 08 ndim, big-endian int32 dims).

    Parameters
    ----------
    raw : bytes
        The decompressed file content.
    source : str
        Where it came from (for the error message).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the declared shape (e.g. ``(60000, 28, 28)``).

    Raises
    ------
    DataError
        If the content is not an IDX file of unsigned bytes or its size disagrees with its header.
    """
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{source}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">i4", count=ndim, offset=4)
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{source}: header says {tuple(dims)} but holds {body.size} bytes")
    return body.reshape(tuple(int(d) for d in dims))


#: Size in bytes of each decompressed MNIST file: the bound checked before anything is inflated.
MNIST_BYTES = {"train-images-idx3-ubyte": 47_040_016, "train-labels-idx1-ubyte": 60_008,
               "t10k-images-idx3-ubyte": 7_840_016, "t10k-labels-idx1-ubyte": 10_008}


def mnist_file_limit(path: Path) -> int | None:
    """The most bytes the MNIST file ``path`` (``stem`` or ``stem.gz``) can hold on disk.

    Its canonical size, plus for gzip the worst case of deflate's stored blocks (5 bytes per 64 KiB)
    and 64 KiB for the header's optional fields. Checked before a file is hashed or read, so a huge
    (or sparse) file is refused at once.

    Parameters
    ----------
    path : pathlib.Path
        An MNIST file path; only its name is used.

    Returns
    -------
    int or None
        The bound in bytes; None for a file of another name.
    """
    path = Path(path)
    gz = path.suffix == ".gz"
    size = MNIST_BYTES.get(path.name.removesuffix(".gz") if gz else path.name)
    if size is None:
        return None
    return size + (5 * (size // 65_535 + 1) + 65_536 if gz else 0)


def mnist_file(data_dir: Path, stem: str) -> Path:
    """The file that holds ``stem`` in ``data_dir``: ``stem.gz`` if it exists, else ``stem``.

    Parameters
    ----------
    data_dir : pathlib.Path
        The MNIST directory.
    stem : str
        One of the four IDX names, e.g. ``"train-images-idx3-ubyte"``.

    Returns
    -------
    pathlib.Path
        The existing file.

    Raises
    ------
    DataError
        If neither exists.
    """
    for path in (Path(data_dir) / f"{stem}.gz", Path(data_dir) / stem):
        if path.is_file():
            return path
    raise DataError(f"[data] dir = {data_dir}: missing {stem}(.gz); MNIST needs the four standard "
                    f"IDX files {', '.join(MNIST_SHA256)} (gzipped or raw)")


def mnist_files(data_dir: str | Path) -> list[Path]:
    """The four files :func:`load_mnist` reads from ``data_dir`` (the inputs of a run).

    Parameters
    ----------
    data_dir : str or pathlib.Path
        The MNIST directory.

    Returns
    -------
    list of pathlib.Path
        Train images, train labels, test images, test labels.

    Raises
    ------
    DataError
        If the directory or a file is missing.
    """
    if not Path(data_dir).is_dir():
        raise DataError(f"[data] dir = {data_dir}: no such directory (put the four MNIST IDX files "
                        "there, gzipped or raw)")
    return [mnist_file(Path(data_dir), stem) for stem in MNIST_SHA256]


def read_bounded(path: Path, limit: int) -> bytes:
    """The (decompressed) content of ``path``, refused before it is inflated or read past ``limit``.

    Checked by the gzip trailer's declared size, by the IDX header's declared shape, and by reading at
    most ``limit + 1`` bytes (declared sizes can lie).

    Parameters
    ----------
    path : pathlib.Path
        A raw or gzipped (``.gz``) file.
    limit : int
        The most decompressed bytes accepted.

    Returns
    -------
    bytes
        The content, at most ``limit`` bytes.

    Raises
    ------
    DataError
        If the file is, or declares itself, larger than allowed.
    """
    gz = path.suffix == ".gz"
    on_disk, most = path.stat().st_size, mnist_file_limit(path)
    if most is not None and on_disk > most:
        raise DataError(f"{path}: {on_disk} bytes, more than the {most} that this file can be; "
                        "not read")
    if gz and on_disk >= 4:
        with open(path, "rb") as f:
            f.seek(-4, 2)
            declared = int.from_bytes(f.read(4), "little")  # ISIZE: length mod 2**32
        if declared > limit:
            raise DataError(f"{path}: declares {declared} bytes once inflated, more than the "
                            f"{limit} of the file it should be; not inflated")
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
        head = f.read(4)
        if len(head) == 4 and head[:3] == b"\x00\x00\x08":
            dims = f.read(4 * head[3])
            body = int(np.prod(np.frombuffer(dims, ">u4"), dtype=object)) if dims else 1
            if 4 + len(dims) + body > limit:
                raise DataError(f"{path}: IDX header declares {body} bytes, more than the "
                                f"{limit} of the file it should be; not read")
            head += dims
        raw = head + f.read(limit + 1 - len(head))
    if len(raw) > limit:
        raise DataError(f"{path}: holds more than the {limit} bytes of the file it should be "
                        "(a gzip bomb or not MNIST); read no further")
    return raw


def _read_verified(data_dir: Path, stem: str) -> np.ndarray:
    path = mnist_file(data_dir, stem)
    try:
        raw = read_bounded(path, MNIST_BYTES[stem])
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MNIST_SHA256[stem]:
        raise DataError(f"{path}: SHA-256 of the content is {digest[:16]}…, expected "
                        f"{MNIST_SHA256[stem][:16]}… (corrupt or not the canonical MNIST file)")
    return read_idx(raw, str(path))


def load_mnist(data_dir: str | Path) -> Dataset:
    """MNIST (60k train / 10k test, permutation invariant: 784-vectors), pixels /255 → [0, 1].

    Each file is checked against the canonical SHA-256 of its decompressed content.

    Parameters
    ----------
    data_dir : str or pathlib.Path
        Directory of the four standard IDX files, gzipped or raw.

    Returns
    -------
    Dataset
        ``"mnist"``, 784 inputs, 10 classes.

    Raises
    ------
    DataError
        If a file is missing, too large, unreadable or not the canonical one.
    """
    data_dir = Path(data_dir)
    mnist_files(data_dir)  # a missing directory or file is reported before anything is read
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _read_verified(data_dir, f"{prefix}-images-idx3-ubyte")
        labels = _read_verified(data_dir, f"{prefix}-labels-idx1-ubyte")
        parts[split] = (images.reshape(len(images), -1) / 255.0, one_hot(labels, 10))
    return Dataset("mnist", *parts["train"], *parts["test"])
