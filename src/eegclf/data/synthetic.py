"""A generated, Graz-like motor-imagery data set that needs no download.

Shape by default exactly the original study's BCI IIIb files: 1080 train / 1080 test trials, 2 channels (C3-like,
C4-like), 750 samples at 125 Hz (6 s), 2 classes (left / right hand), 2 subjects (S1, S2).

Model of one trial (all arrays built at once, spectra shaped in the frequency domain):

- two cortical sources, left (under C3) and right (under C4) motor cortex, each a mu (8-13 Hz) plus a
  beta (15-30 Hz) narrow-band rhythm with a per-trial amplitude and peak frequency;
- the cue comes at the middle of the trial (3 s by default, as in the Graz paradigm); after a per-trial
  latency the rhythm power of the source *contralateral* to the imagined hand drops (event-related
  desynchronisation, ERD), the ipsilateral one drops a little; on some trials ("lapses") nothing happens;
- channels see the sources through volume conduction (each channel also picks up the other side) plus
  1/f background noise, partly shared between channels;
- a few trials hold short runs of NaN samples (like the original study's files); they are filled with the training
  data's per-channel mean, and the raw count is reported in ``info["n_nans"]``.

``difficulty`` in [0, 1] scales the ERD depth by ``1 - difficulty``: 0 is easy, 1 leaves no class
information at all. The default 0.4 was tuned (seeds 0 and 1) so that band-pass 8-30 Hz + log-variance + LDA
scores about 0.71 on the test part, while a small ShallowConvNet-like CNN reaches about 0.88; the ceiling
comes from per-trial amplitude variability (which a model can remove by comparing post- with pre-cue power)
and from 6-10 % lapse trials. Values are on a microvolt-like scale.
"""

from __future__ import annotations

import numpy as np

from eegclf.data.base import EEGDataset, Split
from eegclf.errors import DataError

DEFAULTS = {
    "seed": 0,
    "difficulty": 0.4,
    "n_train": 1080,
    "n_test": 1080,
    "n_chans": 2,
    "n_times": 750,
    "sfreq": 125.0,
}
# one line per option for the command line's help (which adds the default)
OPTION_HELP = {
    "seed": "seed of the generated data",
    "difficulty": "0 (easiest) to 1 (chance level)",
    "n_train": "training trials",
    "n_test": "test trials",
    "n_chans": "channels (C3 and C4 first)",
    "n_times": "samples per trial (at least 2 s)",
    "sfreq": "sampling rate in Hz",
}
FLAG_NAMES = {"seed": "--data-seed"}  # --seed is the training seed

CLASS_NAMES = ["left_hand", "right_hand"]
SUBJECTS = ("S1", "S2")
_EXTRA_NAMES = ["Cz", "FC3", "FC4", "CP3", "CP4", "C1", "C2", "C5", "C6", "FCz", "CPz", "Pz", "Fz"]

# Per-subject parameters: the two "subjects" differ in rhythm frequencies, strength and reliability.
_SUBJECT_PARAMS = {
    "S1": dict(mu_f=10.5, beta_f=21.0, mu_amp=1.3, beta_amp=0.6, depth=0.8, lapse=0.06,
               latency=0.6, gains=(1.0, 1.1), mix=0.30, alpha=1.3),
    "S2": dict(mu_f=11.8, beta_f=24.0, mu_amp=1.1, beta_amp=0.7, depth=0.7, lapse=0.10,
               latency=0.8, gains=(0.9, 1.0), mix=0.40, alpha=1.1),
}

NAN_TRIAL_FRACTION = 0.01
AMP_SD = 0.2  # per-trial log-amplitude variability of each rhythm
CUE_FRACTION = 1.0 / 3.0  # cue at 2 s of the default 6 s trial


def channel_names(n_chans: int) -> list[str]:
    """C3, C4, then further 10-10 names (then E1, E2, ...) for extra channels."""
    names = ["C3", "C4"] + _EXTRA_NAMES
    names += [f"E{i}" for i in range(1, max(0, n_chans - len(names)) + 1)]
    return names[:n_chans]


def _band_noise(rng, n, n_times, sfreq, shape):
    """Gaussian noise of shape (n, n_times) coloured by ``shape(freqs) -> (n, n_freqs)`` amplitudes.

    Each trial's series is scaled to unit variance.
    """
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    amp = shape(freqs).astype(np.float32)
    spec = np.empty((n, freqs.size), dtype=np.complex64)
    spec.real = rng.standard_normal((n, freqs.size), dtype=np.float32) * amp
    spec.imag = rng.standard_normal((n, freqs.size), dtype=np.float32) * amp
    return _unit(np.fft.irfft(spec, n=n_times, axis=-1)).astype(np.float64)


def _rhythm(rng, n, n_times, sfreq, f_peak, bandwidth):
    """Narrow-band noise of unit variance around per-trial peaks f_peak (n,), Gaussian spectral bump."""
    return _band_noise(
        rng, n, n_times, sfreq,
        lambda f: np.exp(-0.5 * ((f[None, :] - f_peak[:, None]) / bandwidth) ** 2),
    )


def _pink(rng, n, n_times, sfreq, alpha):
    """1/f^alpha background noise of unit variance, flattened below 1 Hz."""
    return _band_noise(
        rng, n, n_times, sfreq,
        lambda f: np.broadcast_to(1.0 / np.maximum(f, 1.0) ** (alpha / 2.0), (n, f.size)),
    )


def _unit(x):
    return x / (x.std(axis=-1, keepdims=True) + 1e-12)


def _subject_trials(rng, subject, n, n_chans, n_times, sfreq, difficulty, mixing):
    """Trials of one subject: X (n, n_chans, n_times) float64 (no NaN yet), y (n,) int64."""
    p = _SUBJECT_PARAMS[subject]
    y = rng.permutation(np.arange(n) % 2).astype(np.int64)
    t = np.arange(n_times) / sfreq
    cue = CUE_FRACTION * n_times / sfreq

    # ERD envelope: smooth onset after a per-trial latency; depth varies per trial, lapses have none.
    latency = np.clip(p["latency"] + 0.25 * rng.standard_normal(n), 0.1, None)
    onset = 1.0 / (1.0 + np.exp(-(t[None, :] - cue - latency[:, None]) / 0.15))
    depth = np.clip(p["depth"] * (1.0 + 0.3 * rng.standard_normal(n)), 0.0, 0.95)
    depth *= (rng.random(n) >= p["lapse"]) * (1.0 - difficulty)

    # The products and sums below run in place on (n, T) arrays: the same IEEE operations (x * y == y * x,
    # x + y == y + x) as the plain expressions, so the same values, with a few (n, T) arrays less alive.
    src = np.empty((n, 2, n_times))
    for side in (0, 1):  # 0: left hemisphere (C3, ERD for right hand), 1: right hemisphere (C4)
        contra = y == (1 - side)
        d = np.where(contra, depth, 0.25 * depth)
        env = 1.0 - d[:, None] * onset
        mu_f = p["mu_f"] + 0.5 * rng.standard_normal(n)
        beta_f = p["beta_f"] + 1.5 * rng.standard_normal(n)
        amp_mu = p["mu_amp"] * np.exp(AMP_SD * rng.standard_normal(n))[:, None]
        amp_beta = p["beta_amp"] * np.exp(AMP_SD * rng.standard_normal(n))[:, None]
        mu = _rhythm(rng, n, n_times, sfreq, mu_f, 1.0)
        mu *= amp_mu
        mu *= env  # amp_mu * mu * env
        del env
        beta = _rhythm(rng, n, n_times, sfreq, beta_f, 2.5)
        beta *= amp_beta
        beta *= 1.0 - 0.6 * d[:, None] * onset  # amp_beta * beta * beta_env
        np.add(mu, beta, out=src[:, side])
        del mu, beta
    del onset

    mix = mixing.copy()
    mix[:2] = [[1.0, p["mix"]], [p["mix"], 1.0]] if n_chans >= 2 else [[1.0, p["mix"]]]
    X = np.einsum("cs,nst->nct", mix, src)
    del src

    common = _pink(rng, n, n_times, sfreq, p["alpha"])
    own = _pink(rng, n * n_chans, n_times, sfreq, p["alpha"]).reshape(n, n_chans, n_times)
    bg_scale = np.exp(0.2 * rng.standard_normal((n, 1, 1)))
    own *= 0.8
    common *= 0.6
    own += common[:, None, :]
    own *= bg_scale  # bg_scale * (0.6 * common + 0.8 * own)
    X += own

    gains = np.ones(n_chans)
    gains[: min(2, n_chans)] = p["gains"][: min(2, n_chans)]
    X *= 10.0 * gains[None, :, None]  # microvolt-like scale
    return X, y


def _add_nans(rng, X):
    """Put short NaN runs (1-20 samples, one channel) into about 1 % of the trials, in place."""
    n, n_chans, n_times = X.shape
    k = max(1, int(round(NAN_TRIAL_FRACTION * n)))
    trials = rng.choice(n, size=k, replace=False)
    chans = rng.integers(0, n_chans, size=k)
    length = rng.integers(1, 21, size=k)
    start = rng.integers(0, max(1, n_times - 20), size=k)
    t = np.arange(n_times)[None, :]
    mask = (t >= start[:, None]) & (t < (start + length)[:, None])
    rows = X[trials, chans]  # (k, T) copy
    rows[mask] = np.nan
    X[trials, chans] = rows


def generate_part(seed, part, n, n_chans, n_times, sfreq, difficulty):
    """Raw trials of one part (0 = train, 1 = test), S1 first then S2, NaNs not yet filled.

    Returns X float64 (n, n_chans, n_times), y int64 (n,), subjects str (n,).
    """
    mix_rng = np.random.default_rng([seed, 99])
    mixing = np.zeros((n_chans, 2))
    if n_chans > 2:
        mixing[2:] = mix_rng.uniform(0.0, 0.8, size=(n_chans - 2, 2))
    counts = [n - n // 2, n // 2]
    Xs, ys, subs = [], [], []
    for s_idx, (subject, n_s) in enumerate(zip(SUBJECTS, counts)):
        rng = np.random.default_rng([seed, part, s_idx])
        X, y = _subject_trials(rng, subject, n_s, n_chans, n_times, sfreq, difficulty, mixing)
        _add_nans(rng, X)
        Xs.append(X)
        ys.append(y)
        subs.append(np.full(n_s, subject))
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(subs)


def load_synthetic(data_dir=None, *, seed, difficulty, n_train, n_test, n_chans, n_times, sfreq):
    """Generate the synthetic set. X float32 (n, 1, n_chans, n_times); deterministic given the options."""
    seed, n_train, n_test, n_chans, n_times = (int(v) for v in (seed, n_train, n_test, n_chans, n_times))
    difficulty, sfreq = float(difficulty), float(sfreq)
    if not 0.0 <= difficulty <= 1.0:
        raise DataError(f"synthetic difficulty must be in [0, 1]; got {difficulty}")
    if seed < 0:
        raise DataError(f"synthetic seed must be >= 0; got {seed}")
    if n_train < 2 or n_test < 2:
        raise DataError(f"synthetic n_train and n_test must be >= 2 (one trial per subject); got {n_train}, {n_test}")
    if n_chans < 1:
        raise DataError(f"synthetic n_chans must be >= 1; got {n_chans}")
    if sfreq < 64:
        raise DataError(f"synthetic sfreq must be >= 64 Hz to hold the beta band; got {sfreq}")
    if n_times < int(2 * sfreq):
        raise DataError(f"synthetic n_times must cover at least 2 s ({int(2 * sfreq)} samples); got {n_times}")

    def split(X, y, s):
        return Split(X[:, None].astype(np.float32), y, s, np.full(len(y), -1, dtype=np.int64))

    def fill_nans(X):
        idx = np.where(np.isnan(X))
        X[idx] = fill[idx[1]]

    # One part at a time, float64 dropped once it is float32: the generator's peak memory is one part's.
    Xtr, ytr, str_ = generate_part(seed, 0, n_train, n_chans, n_times, sfreq, difficulty)
    n_nans = {"train": int(np.isnan(Xtr).sum())}
    fill = np.nanmean(Xtr, axis=(0, 2))  # per-channel training mean
    fill_nans(Xtr)
    train = split(Xtr, ytr, str_)
    del Xtr
    Xte, yte, ste = generate_part(seed, 1, n_test, n_chans, n_times, sfreq, difficulty)
    n_nans["test"] = int(np.isnan(Xte).sum())
    fill_nans(Xte)
    test = split(Xte, yte, ste)
    del Xte

    options = dict(seed=seed, difficulty=difficulty, n_train=n_train, n_test=n_test,
                   n_chans=n_chans, n_times=n_times, sfreq=sfreq)
    info = {
        "n_nans": n_nans["train"] + n_nans["test"],
        "n_nans_per_split": n_nans,
        "fill_values": [float(v) for v in fill],
        "cue_time_s": CUE_FRACTION * n_times / sfreq,
        "description": "synthetic Graz-like motor imagery (1/f noise + mu/beta ERD after the cue)",
    }
    return EEGDataset("synthetic", train, test, sfreq,
                      channel_names(n_chans), list(CLASS_NAMES), options, info)
