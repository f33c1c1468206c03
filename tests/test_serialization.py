"""nesy.save / nesy.load: round trips, no pickle, atomic writes, clear errors."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import nesy
from nesy import serialization


def test_nested_round_trip_keeps_types_and_values(tmp_path):
    obj = {
        "weights": nesy.tensor([[1.5, -2.0]], dtype=nesy.float64),
        "counts": np.arange(4, dtype=np.int32),
        "flags": nesy.tensor([True, False]),
        "state": {0: {"step": 7, "buf": nesy.zeros(2)}, 12: None},
        "hyper": {"lr": 0.1, "betas": (0.9, 0.999), "name": "adam", "nesterov": False},
        "history": [1, 2.5, float("inf"), "x", None, [True, {"deep": nesy.ones(1)}]],
        "scalar": np.float32(0.25),
    }
    path = tmp_path / "obj.npz"
    nesy.save(obj, path)
    back = nesy.load(path)
    assert list(back) == list(obj)
    assert isinstance(back["weights"], nesy.Tensor) and back["weights"].dtype == nesy.float64
    assert back["weights"].tolist() == [[1.5, -2.0]]
    assert isinstance(back["counts"], nesy.Tensor) and back["counts"].dtype == nesy.int32
    assert back["flags"].tolist() == [True, False]
    assert list(back["state"]) == [0, 12] and back["state"][0]["step"] == 7
    assert back["state"][12] is None
    assert back["hyper"] == {"lr": 0.1, "betas": (0.9, 0.999), "name": "adam",
                             "nesterov": False}
    assert back["history"][:5] == [1, 2.5, float("inf"), "x", None]
    assert back["history"][5][1]["deep"].tolist() == [1.0]
    assert back["scalar"] == np.float32(0.25) and back["scalar"].dtype == np.float32


def test_floats_round_trip_exactly(tmp_path):
    values = [0.1, 1 / 3, 1e-300, -0.0, float("nan")]
    nesy.save({"v": values}, tmp_path / "f.npz")
    back = nesy.load(tmp_path / "f.npz")["v"]
    assert back[:3] == values[:3] and np.signbit(back[3]) and np.isnan(back[4])


def test_requires_grad_is_restored(tmp_path):
    nesy.save({"p": nesy.ones(2, requires_grad=True), "q": nesy.ones(2)}, tmp_path / "g.npz")
    back = nesy.load(tmp_path / "g.npz")
    assert back["p"].requires_grad and not back["q"].requires_grad


def test_module_state_dict_round_trip(tmp_path):
    net = nesy.nn.MLP([3, 5, 2])
    net.register_buffer("seen", nesy.tensor([4], dtype=nesy.int64))
    nesy.save(net.state_dict(), tmp_path / "net.npz")
    other = nesy.nn.MLP([3, 5, 2])
    other.register_buffer("seen", nesy.zeros(1, dtype=nesy.int64))
    other.load_state_dict(nesy.load(tmp_path / "net.npz"))
    for (name, a), (_, b) in zip(net.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_file_is_a_plain_npz_without_pickles(tmp_path):
    path = tmp_path / "plain.npz"
    nesy.save({"w": nesy.ones(2), "meta": {"k": "v"}}, path)
    with np.load(path, allow_pickle=False) as archive:
        manifest = json.loads(str(archive["__nesy__"]))
        members = {name: archive[name] for name in archive.files}  # none needs pickle
    assert manifest["format"] == "nesy" and manifest["version"] == serialization.FORMAT_VERSION
    assert all(a.dtype.kind != "O" for a in members.values())


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    nesy.save({"a": nesy.ones(3)}, buffer)
    buffer.seek(0)
    assert nesy.load(buffer)["a"].tolist() == [1.0, 1.0, 1.0]


def test_path_is_used_as_given(tmp_path):
    nesy.save({"a": 1}, tmp_path / "model.pt")
    assert os.listdir(tmp_path) == ["model.pt"]  # np.savez would have added ".npz"


# --- atomicity ------------------------------------------------------------------------------
def test_unsupported_leaf_leaves_the_earlier_file_intact(tmp_path):
    path = tmp_path / "ckpt.npz"
    nesy.save({"w": nesy.tensor([1.0, 2.0])}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"unsupported value of type object at key path "
                                        r"state/0/bad"):
        nesy.save({"w": nesy.zeros(2), "state": {0: {"bad": object()}}}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert nesy.load(path)["w"].tolist() == [1.0, 2.0]


def test_failure_while_writing_removes_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    nesy.save({"w": nesy.tensor([1.0])}, path)
    before = path.read_bytes()

    def failing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")  # something partial reaches the disk first
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        nesy.save({"w": nesy.tensor([9.0])}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_save_keeps_the_files_permissions(tmp_path):
    path = tmp_path / "shared.npz"
    nesy.save({"a": 1}, path)
    os.chmod(path, 0o640)
    nesy.save({"a": 2}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640


# --- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("obj,where", [
    ({"a": {1.5: 0}}, "key path a"),
    ({"a": [np.array([object()])]}, "key path a/0"),
    ({"f": lambda: 0}, "key path f"),
])
def test_unsupported_values_name_their_key_path(tmp_path, obj, where):
    with pytest.raises(TypeError, match=where):
        nesy.save(obj, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_loading_files_that_are_not_nesy_saves(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a nesy save file"):
        nesy.load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, w=np.ones(2))
    with pytest.raises(ValueError, match="not a nesy save file"):
        nesy.load(plain)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(2))
    with pytest.raises(ValueError, match="not a nesy save file"):
        nesy.load(single)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="not a nesy save file"):
        nesy.load(broken)


def test_loading_a_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "future.npz"
    manifest = {"format": "nesy", "version": serialization.FORMAT_VERSION + 1,
                "tree": {"value": 1}}
    np.savez(path, __nesy__=np.array(json.dumps(manifest)))
    with pytest.raises(ValueError, match="format version 2"):
        nesy.load(path)


def test_pickled_members_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    manifest = {"format": "nesy", "version": 1, "tree": {"ndarray": "a0"}}
    np.savez(path, a0=np.array([object()], dtype=object), __nesy__=np.array(json.dumps(manifest)))
    with pytest.raises(ValueError, match="allow_pickle"):
        nesy.load(path)
    assert zipfile.is_zipfile(path)
