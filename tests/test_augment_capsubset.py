"""The ``capsubset`` augmentation: a trial restricted to a common cap is what MNE's interpolation makes of it."""

from __future__ import annotations

import mne
import numpy as np
import pytest
import torch

from eegclf.data.channels import _montage, canonical_name
from eegclf.errors import ConfigError
from eegclf.training.augment import SUBSET_CAPS, Augmenter, subset_matrices

EEGMMIDB_64 = ["Fc5", "Fc3", "Fc1", "Fcz", "Fc2", "Fc4", "Fc6", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "Cp5",
               "Cp3", "Cp1", "Cpz", "Cp2", "Cp4", "Cp6", "Fp1", "Fpz", "Fp2", "Af7", "Af3", "Afz", "Af4", "Af8",
               "F7", "F5", "F3", "F1", "Fz", "F2", "F4", "F6", "F8", "Ft7", "Ft8", "T7", "T8", "T9", "T10",
               "Tp7", "Tp8", "P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8", "Po7", "Po3", "Poz", "Po4",
               "Po8", "O1", "Oz", "O2", "Iz"]


def mne_restricted(names, data, cap):
    """``data`` (C, T) as a recording with only ``cap``, average-referenced over it, interpolated back by MNE."""
    canon = [canonical_name(n) for n in names]
    keep = [canon.index(canonical_name(c)) for c in cap]
    x = data.copy()
    x[keep] -= x[keep].mean(axis=0)
    x[[i for i in range(len(names)) if i not in keep]] = 0.0
    info = mne.create_info(canon, 160.0, "eeg")
    info.set_montage(_montage(), match_case=False)
    raw = mne.io.RawArray(x, info, verbose="error")
    raw.info["bads"] = [canon[i] for i in range(len(names)) if i not in keep]
    raw.interpolate_bads(reset_bads=True, verbose="error")
    return raw.get_data()


@pytest.mark.parametrize("k", range(len(SUBSET_CAPS)))
def test_each_cap_matrix_is_mne_interpolation_of_the_cap_referenced_to_its_own_average(k):
    rng = np.random.default_rng(k)
    data = rng.standard_normal((64, 50))
    M = subset_matrices(tuple(EEGMMIDB_64))
    assert M.shape == (3, 64, 64)
    np.testing.assert_allclose(M[k] @ data, mne_restricted(EEGMMIDB_64, data, SUBSET_CAPS[k]), atol=1e-5)


def test_about_half_the_trials_are_restricted_reproducibly_and_the_rest_untouched():
    x = torch.randn(200, 1, 64, 40)
    outs = []
    for _ in range(2):
        aug = Augmenter("capsubset", seed=1, ch_names=EEGMMIDB_64)
        aug.start_epoch(3)
        outs.append(aug(x))
    assert torch.equal(outs[0], outs[1])
    same = torch.isclose(outs[0], x, atol=1e-6).flatten(1).all(1)
    assert 60 < int((~same).sum()) < 140
    M = torch.from_numpy(subset_matrices(tuple(EEGMMIDB_64)))
    for i in torch.nonzero(~same).flatten()[:10].tolist():  # each changed trial is one cap's restriction
        assert any(torch.allclose(outs[0][i, 0], M[k] @ x[i, 0], atol=1e-5) for k in range(len(M)))


def test_channel_dropout_spares_restricted_trials_and_other_draws_are_unchanged_without_capsubset():
    x = torch.randn(64, 1, 64, 40)
    plain = Augmenter("shift,scale,chdrop", seed=2)
    plain.start_epoch(1)
    again = Augmenter("shift,scale,chdrop", seed=2, ch_names=EEGMMIDB_64)
    again.start_epoch(1)
    assert torch.equal(plain(x), again(x))


def test_trials_without_any_cap_are_refused_naming_augment():
    with pytest.raises(ConfigError, match="augment=capsubset"):
        Augmenter("capsubset", seed=0, ch_names=["C3", "C4", "Cz"])  # the smallest cap is the whole trial
    with pytest.raises(ConfigError, match="channel names"):
        Augmenter("capsubset", seed=0)
