"""Network file contract: round trip and clear rejection of bad files."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from stdp_ebm.errors import NetworkFileError
from stdp_ebm.network import load_network, save_network


def _arrays(small_net):
    arrays = {f"W_{k}": w for k, w in enumerate(small_net.W)}
    arrays.update({f"b_{k}": b for k, b in enumerate(small_net.b)})
    return arrays


def test_round_trip(small_net, tmp_path):
    save_network(small_net, tmp_path / "n.npz")
    back = load_network(tmp_path / "n.npz")
    for a, b in zip(small_net.W + small_net.b + [small_net.x, small_net.target],
                    back.W + back.b + [back.x, back.target]):
        assert_array_equal(a, b)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda a: a.update(V_0=a["W_0"].T), "unexpected array 'V_0'"),
    (lambda a: a.update(W_0=a["W_0"].T), "W_0 has shape"),
    (lambda a: a.pop("W_1"), "numbered 0.."),
    (lambda a: a.pop("b_3"), "need 2 weight matrices"),
    (lambda a: a.__setitem__("W_2", np.full_like(a["W_2"], np.nan)), "W_2 contains NaN"),
    (lambda a: a.update(x=np.zeros(9)), "x has shape"),
    (lambda a: a.update(target=np.zeros((2, 7))), "target has shape"),
])
def test_bad_files_are_rejected_with_a_clear_message(small_net, tmp_path, mutate, fragment):
    arrays = _arrays(small_net)
    mutate(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(NetworkFileError, match=fragment.replace("(", r"\(")):
        load_network(tmp_path / "bad.npz")


def test_pickled_objects_are_refused(tmp_path, small_net):
    arrays = _arrays(small_net)
    arrays["W_0"] = np.array([object()], dtype=object)
    np.savez(tmp_path / "p.npz", **arrays)
    with pytest.raises(NetworkFileError):
        load_network(tmp_path / "p.npz")


def test_not_an_npz(tmp_path):
    (tmp_path / "junk.npz").write_text("hello")
    with pytest.raises(NetworkFileError, match="not a readable"):
        load_network(tmp_path / "junk.npz")
