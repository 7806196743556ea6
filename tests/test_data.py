"""Data sets: the bundled digits split and MNIST IDX reading with checksum verification."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from stdp_ebm.data import MNIST_SHA256, DataError, load_digits, load_mnist, read_idx

MNIST_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"no MNIST files in {MNIST_DIR}")


def test_digits_split_is_stratified_scaled_and_reproducible():
    a = load_digits(np.random.default_rng(3), test_fraction=0.2)
    b = load_digits(np.random.default_rng(3), test_fraction=0.2)
    per_class = a.y_train.sum(axis=0) + a.y_test.sum(axis=0)
    assert per_class.sum() == 1797 and a.x_train.shape[1] == 64
    assert a.x_train.min() >= 0.0 and a.x_train.max() <= 1.0
    np.testing.assert_array_equal(a.y_train.sum(axis=1), 1.0)
    np.testing.assert_array_equal(a.y_test.sum(axis=0), np.round(0.2 * per_class))
    np.testing.assert_array_equal(a.x_test, b.x_test)
    c = load_digits(np.random.default_rng(4))
    assert not np.array_equal(a.x_test, c.x_test)


def test_digits_rejects_bad_fraction():
    with pytest.raises(DataError, match="test_fraction"):
        load_digits(np.random.default_rng(0), test_fraction=1.0)


def _idx(dims: tuple[int, ...], body: bytes) -> bytes:
    header = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + body


def test_read_idx_parses_header_and_rejects_garbage():
    arr = read_idx(_idx((2, 3), bytes(range(6))), "t")
    np.testing.assert_array_equal(arr, [[0, 1, 2], [3, 4, 5]])
    with pytest.raises(DataError, match="not an IDX"):
        read_idx(b"\x1f\x8b\x08\x00junk", "t")
    with pytest.raises(DataError, match="holds 5 bytes"):
        read_idx(_idx((2, 3), bytes(5)), "t")


def test_missing_directory_and_file_are_clear(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte"):
        load_mnist(tmp_path)


def test_wrong_content_fails_the_checksum(tmp_path):
    for stem in MNIST_SHA256:
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(_idx((1, 1), b"\x00")))
    with pytest.raises(DataError, match="SHA-256"):
        load_mnist(tmp_path)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(MNIST_DIR)


@needs_mnist
def test_mnist_shapes_and_known_labels(mnist):
    assert mnist.x_train.shape == (60000, 784) and mnist.x_test.shape == (10000, 784)
    assert mnist.x_train.min() == 0.0 and mnist.x_train.max() == 1.0
    # the canonical files start with a 5 (train) and a 7 (test)
    assert np.argmax(mnist.y_train[0]) == 5 and np.argmax(mnist.y_test[0]) == 7
    np.testing.assert_array_equal(mnist.y_test.sum(axis=0)[:3], [980, 1135, 1032])


@needs_mnist
def test_mnist_raw_files_read_the_same(tmp_path, mnist):
    for stem in MNIST_SHA256:
        with gzip.open(MNIST_DIR / f"{stem}.gz") as src, open(tmp_path / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    raw = load_mnist(tmp_path)
    np.testing.assert_array_equal(raw.x_test, mnist.x_test)
    np.testing.assert_array_equal(raw.y_train, mnist.y_train)


def test_validation_split_holds_out_the_last_training_examples():
    data = load_digits(np.random.default_rng(0), 0.2)
    val = data.validation(300)
    np.testing.assert_array_equal(val.x_test, data.x_train[-300:])
    np.testing.assert_array_equal(val.y_train, data.y_train[:-300])
    assert len(val.x_train) + len(val.x_test) == len(data.x_train)
    with pytest.raises(DataError, match="between 0 and the 1438"):
        data.validation(1438)
