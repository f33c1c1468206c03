"""``nesy train``: training, the truth table, checkpoints, resuming and clean errors."""

import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nesy as nesy_lib

from . import SMOKERS, nesy

RULE_NAMES = ["facts(Friends)", "facts(not Smokes)", "anti_reflexive", "symmetric",
              "has_friend", "smoking_spreads", "smoking_causes_cancer", "no_smoking_no_cancer"]


def train(tmp_path, *args, rules=SMOKERS):
    return nesy("train", rules, *args, cwd=tmp_path)


def arrays(path):
    """The checkpoint's parameters as NumPy arrays, by name."""
    return {k: v.numpy() for k, v in nesy_lib.load(path)["model"].items()}


def test_train_prints_every_rule_and_writes_a_checkpoint(tmp_path):
    result = train(tmp_path, "--epochs", 5, "--checkpoint", "out.npz")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rule", "weight", "truth"]
    for name in RULE_NAMES:
        row = next(line for line in lines if line.startswith(name + " "))
        assert 0 <= float(row.split()[-1]) <= 1
    assert any(line.startswith("query cancer_implies_smoking") for line in lines)
    assert lines[-1].startswith("satisfaction: ") and lines[-1].endswith("after 5 epochs")
    assert "checkpoint: out.npz (epoch 5)" in result.stderr
    saved = nesy_lib.load(tmp_path / "out.npz")
    assert (saved["format"], saved["epoch"]) == ("nesy-train", 5)
    assert saved["optimizer"]["name"] == "adam"
    assert len(saved["history"]["satisfaction"].tolist()) == 5
    kb = nesy_lib.logic.load(SMOKERS)
    assert sorted(saved["model"]) == sorted(kb.state_dict())
    kb.load_state_dict(saved["model"])  # strict: every key and shape fits the rule file
    assert saved["parameters"]["embeddings.Person"] == [14, 10]


def test_the_same_seed_gives_the_same_checkpoint(tmp_path):
    for name, seed in [("a.npz", 3), ("b.npz", 3), ("c.npz", 4)]:
        assert train(tmp_path, "--epochs", 3, "--seed", seed, "--checkpoint", name,
                     "--quiet").returncode == 0
    a, b, c = (nesy_lib.load(tmp_path / n) for n in ("a.npz", "b.npz", "c.npz"))
    for key in a["model"]:
        assert np.array_equal(a["model"][key].numpy(), b["model"][key].numpy()), key
    assert a["history"]["loss"].tolist() == b["history"]["loss"].tolist()
    assert a["rng"] == b["rng"] and a["fingerprint"] == b["fingerprint"]
    assert not np.array_equal(a["model"]["embeddings.Person"].numpy(),
                              c["model"]["embeddings.Person"].numpy())


def test_resume_continues_where_it_stopped(tmp_path):
    assert train(tmp_path, "--epochs", 20, "--checkpoint", "half.npz").returncode == 0
    resumed = train(tmp_path, "--epochs", 20, "--resume", "half.npz", "--checkpoint", "two.npz")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1].endswith("after 40 epochs")
    assert train(tmp_path, "--epochs", 40, "--checkpoint", "one.npz").returncode == 0
    half, two, one = (nesy_lib.load(tmp_path / n) for n in ("half.npz", "two.npz", "one.npz"))
    assert (two["epoch"], one["epoch"]) == (40, 40)
    # the parameters, the Adam state and the random generator are restored: 20 + 20 = 40
    for key, value in arrays(tmp_path / "one.npz").items():
        np.testing.assert_allclose(two["model"][key].numpy(), value, rtol=1e-6, atol=1e-7)
    history = two["history"]["satisfaction"].tolist()
    assert history[:20] == half["history"]["satisfaction"].tolist()
    np.testing.assert_allclose(history, one["history"]["satisfaction"].tolist(), rtol=1e-6)
    assert history[-1] > history[19] > history[0]


def test_resume_restores_the_random_generator_for_dropout(tmp_path):
    rules = tmp_path / "dropout.nesy"
    rules.write_text("domain P = {a, b, c, d}.\nfeatures P = embedding(4).\n"
                     "predicate Q(P) = mlp(hidden = [8], dropout = 0.5).\n"
                     "Q(a). Q(b). not Q(c).\nrule r: forall x: Q(x) -> Q(d).\n")
    for args in (["--epochs", 3, "--checkpoint", "h.npz"],
                 ["--epochs", 3, "--resume", "h.npz", "--checkpoint", "two.npz"],
                 ["--epochs", 6, "--checkpoint", "one.npz"]):
        assert train(tmp_path, *args, "--quiet", rules=rules).returncode == 0
    two, one = arrays(tmp_path / "two.npz"), arrays(tmp_path / "one.npz")
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=1e-6, atol=1e-7)


def test_resume_refuses_a_checkpoint_of_other_parameters(tmp_path):
    assert train(tmp_path, "--epochs", 1, "--checkpoint", "s.npz", "--quiet").returncode == 0
    other = tmp_path / "other.nesy"
    other.write_text(
        "domain Person = {a, b, c, d, e, f, g, h, i, j, k, l, m, n}.\n"
        "features Person = embedding(12).\n"
        "predicate Smokes(Person) = mlp(hidden = [16, 16], activation = elu).\n"
        "Smokes(a). not Smokes(b).\n"
    )
    result = train(tmp_path, "--resume", "s.npz", rules=other)
    assert result.returncode == 1
    err = result.stderr
    assert "checkpoint s.npz does not match the parameters of" in err
    assert "only in the checkpoint: models.Friends.0.weight" in err
    assert "embeddings.Person (14, 10) in the checkpoint, (14, 12) in the rule file" in err
    not_a_checkpoint = train(tmp_path, "--resume", "other.nesy")
    assert not_a_checkpoint.returncode == 1 and "cannot resume from other.nesy" in (
        not_a_checkpoint.stderr)


def test_an_unwritable_checkpoint_fails_before_training(tmp_path):
    result = train(tmp_path, "--epochs", 1, "--checkpoint", "no/such/folder/out.npz")
    assert result.returncode == 1
    assert result.stderr.startswith("nesy: error: cannot write checkpoint no/such/folder/out.npz")
    assert result.stdout == ""
    (tmp_path / "folder.npz").mkdir()
    assert "it is a folder" in train(tmp_path, "--checkpoint", "folder.npz").stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.npz"]  # no partial file


def test_a_failed_final_save_is_a_clean_error(tmp_path):
    from nesy.commands import train as command

    kb = nesy_lib.logic.load(SMOKERS)
    optimizer = nesy_lib.optim.Adam(kb.parameters())
    state = {"epoch": 0, "satisfaction": [], "loss": [], "seed": 0, "semantics": None,
             "optimizer": "adam"}
    with pytest.raises(command.TrainError, match="cannot write checkpoint"):
        command._save(str(tmp_path / "gone" / "x.npz"), SMOKERS, kb, optimizer, state, nesy_lib)
    assert list(tmp_path.iterdir()) == []


def test_a_rule_file_with_errors_prints_the_diagnostics(tmp_path):
    bad = tmp_path / "bad.nesy"
    bad.write_text("domain P = {a}.\nfeatures P = embedding(2).\npredicate Q(P) = mlp.\n"
                   "rule r: forall x: R(x).\n")
    result = train(tmp_path, rules=bad)
    assert result.returncode == 1
    assert "bad.nesy:4:19: error: undefined predicate 'R'" in result.stderr
    assert "^" in result.stderr
    debug = nesy("--debug", "train", bad, cwd=tmp_path, debug=True)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_clear_errors_without_traceback(tmp_path):
    table = tmp_path / "table.nesy"
    table.write_text("domain P = {a}.\npredicate Q(P).\nQ(a).\nrule r: forall x: Q(x).\n")
    result = train(tmp_path, rules=table)
    assert result.returncode == 1
    assert "nothing to train: " in result.stderr and "no learned parameters" in result.stderr
    missing = train(tmp_path, rules="missing.nesy")
    assert missing.returncode == 1
    assert "cannot read rule file missing.nesy: No such file" in missing.stderr
    wrong = train(tmp_path, "--semantics", "fuzzy")
    assert wrong.returncode == 1 and "unknown semantics preset 'fuzzy'" in wrong.stderr
    assert train(tmp_path, "--epochs", "-1").returncode == 2
    assert train(tmp_path, "--lr", "0").returncode == 2


def test_options_quiet_sgd_and_semantics(tmp_path):
    result = train(tmp_path, "--epochs", 2, "--optimizer", "sgd", "--lr", "0.1",
                   "--semantics", "godel", "--quiet", "--checkpoint", "s.npz")
    assert result.returncode == 0
    assert result.stderr == ""
    saved = nesy_lib.load(tmp_path / "s.npz")
    assert (saved["optimizer"]["name"], saved["semantics"]) == ("sgd", "godel")
    assert saved["optimizer"]["state"]["param_groups"][0]["lr"] == 0.1
    wrong = train(tmp_path, "--resume", "s.npz", "--optimizer", "adam")
    assert wrong.returncode == 1 and "trained with sgd" in wrong.stderr
    shown = train(tmp_path, "--epochs", 2, "--progress")
    assert "2/2 sat " in shown.stderr


def test_ctrl_c_writes_the_checkpoint_so_far(tmp_path):
    args = [sys.executable, "-m", "nesy", "train", SMOKERS, "--epochs", "100000",
            "--progress", "--checkpoint", "cut.npz"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen, deadline = b"", time.monotonic() + 60
    while b"/100000" not in seen and time.monotonic() < deadline:  # training has begun
        if select.select([proc.stderr], [], [], 1)[0]:
            seen += proc.stderr.read1(4096)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    err = (seen + err).decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    saved = nesy_lib.load(tmp_path / "cut.npz")
    assert 1 <= saved["epoch"] < 100000
    assert f"interrupted after epoch {saved['epoch']}; checkpoint written to cut.npz" in err
    assert len(saved["history"]["loss"].tolist()) == saved["epoch"]
    resumed = train(tmp_path, "--epochs", 1, "--resume", "cut.npz", "--quiet")
    assert resumed.stdout.splitlines()[-1].endswith(f"after {saved['epoch'] + 1} epochs")


def test_help_documents_every_option():
    text = nesy("train", "--help").stdout
    for option in ("--epochs", "--lr", "--seed", "--semantics", "--checkpoint", "--resume",
                   "--quiet", "--progress", "--optimizer", "examples:", "nesy train "):
        assert option in text
