"""A shipped family's member is used for exactly its channels (by name), and the family's network otherwise."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
from safetensors.torch import save_file

import eegclf.pretrained as pretrained
from eegclf.caps import member_for, members
from eegclf.cli import _family_member

C3CZC4 = ["C3", "Cz", "C4"]
EIGHT = ["FC3", "FC4", "C3", "Cz", "C4", "CP3", "CPz", "CP4"]


@pytest.fixture
def family(tmp_path, monkeypatch):
    """A fake catalogue: 'fam' (64-channel-like) with members 'fam-3' and 'fam-8'."""
    files = {}
    for name, chans in (("fam", EIGHT + ["Fz", "Pz"]), ("fam-3", C3CZC4), ("fam-8", EIGHT),
                        ("fam-any", EIGHT + ["Fz", "Pz"])):
        files[name] = tmp_path / f"{name}.safetensors"
        save_file({"w": torch.zeros(1)}, str(files[name]), metadata={"eegclf": json.dumps({"ch_names": chans})})
    entries = {"fam": {"file": "fam.safetensors"}, "fam-3": {"file": "fam-3.safetensors", "family": "fam"},
               "fam-8": {"file": "fam-8.safetensors", "family": "fam"},
               # a member of the family's own channels that serves listed caps (a network trained to expect them)
               "fam-any": {"file": "fam-any.safetensors", "family": "fam", "caps": [["C3", "Cz", "Pz"]]}}
    monkeypatch.setattr(pretrained, "catalogue", lambda: entries)
    monkeypatch.setattr(pretrained, "path_of", lambda name: files[name])
    monkeypatch.chdir(tmp_path / "..")  # no file named like a shipped network here
    return files


def test_members_are_listed_with_their_channels(family):
    assert members("fam") == {"fam-3": tuple(C3CZC4), "fam-8": tuple(EIGHT), "fam-any": tuple(EIGHT + ["Fz", "Pz"])}
    assert members("fam-3") == {}


@pytest.mark.parametrize("channels", ["C3,Cz,C4", "c4, CZ, c3", ["Cz..", "C3.", "C4"]])
def test_exactly_a_members_channels_in_any_order_case_or_spelling_pick_it(family, channels):
    member, note = member_for("fam", channels)
    assert member == "fam-3" and "fam-3" in note and "3 channels" in note


def test_a_member_serves_the_caps_its_entry_lists(family):
    assert member_for("fam", "pz,C3,CZ")[0] == "fam-any"
    assert member_for("fam", ",".join(EIGHT))[0] == "fam-8"  # its own channels are not among its caps


@pytest.mark.parametrize("channels", ["C3,Cz", "C3,Cz,C4,Pz", None, ""])
def test_other_channels_keep_the_familys_network(family, channels):
    assert member_for("fam", channels) == ("fam", None)


def test_a_path_or_a_member_name_is_kept(family, tmp_path):
    assert member_for("fam-8", "C3,Cz,C4") == ("fam-8", None)  # a member asked for by name is that member
    own = tmp_path / "mine.safetensors"
    own.write_bytes(b"x")
    assert member_for(str(own), "C3,Cz,C4") == (str(own), None)


def test_the_command_line_swaps_init_and_checkpoint_and_says_so(family, capsys):
    args = argparse.Namespace(init="fam,other.safetensors", loader_channels="C3,Cz,C4", loader_cap=None)
    _family_member(args)
    assert args.init == "fam-3,other.safetensors"
    assert args.loader_cap == "C3,Cz,C4"  # the recording taken as made with that cap (referenced over it alone)
    args = argparse.Namespace(checkpoint="fam", channels=None, loader_cap=",".join(EIGHT))
    _family_member(args)
    assert args.checkpoint == "fam-8"
    assert capsys.readouterr().err.count("eegclf: note: fam:") == 2
