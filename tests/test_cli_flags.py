"""The command line made from RunConfig and the loaders: every field and option has a flag whose help shows
its default, defaults < config file < flags, and library errors said with the flags that set their values."""

import json
import re
from dataclasses import MISSING, fields

import pytest

from eegclf.cli import build_parser, flags_of, in_flags, main
from eegclf.cli.flags import config_from_args
from eegclf.config import RunConfig
from eegclf.data import list_datasets, loader_module
from eegclf.errors import CheckpointError, ConfigError


def help_entries(capsys, monkeypatch, *command) -> dict[str, str]:
    """{option string: its help text on one line} of ``eegclf COMMAND --help``."""
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    entries, current = {}, None
    for line in capsys.readouterr().out.splitlines():
        m = re.match(r"^  (-\S.*?)(?:\s{2,}(.*))?$", line)
        if m:
            current = re.findall(r"(?<!\w)--?[a-z][\w-]*", m.group(1))
            for flag in current:
                entries[flag] = m.group(2) or ""
        elif current and line.startswith(" " * 8) and line.strip():
            for flag in current:
                entries[flag] = f"{entries[flag]} {line.strip()}".strip()
        else:
            current = None
    return entries


def expected_default(value, none_text) -> str:
    """The default as the help should show it, written out independently of eegclf.cli."""
    if value is None:
        return f"(default: {none_text})"
    if isinstance(value, bool):
        return "(default on)" if value else "(default off)"
    if isinstance(value, dict):
        return "(default: none)" if not value else f"(default: {json.dumps(value)})"
    if isinstance(value, float):
        return f"(default {value:g})"
    if isinstance(value, list):
        return f"(default {','.join(map(str, value))})"
    return f"(default {value})"


def test_every_run_config_field_has_a_flag_whose_help_shows_its_default(capsys, monkeypatch):
    entries = help_entries(capsys, monkeypatch, "train")
    for f in fields(RunConfig):
        assert f.metadata.get("help"), f"RunConfig.{f.name} needs metadata help= for its flag"
        flag = f.metadata.get("flags", ("--" + f.name.replace("_", "-"),))[0]
        assert flag in entries, f"RunConfig.{f.name}: no {flag} in 'eegclf train --help'"
        default = f.default_factory() if f.default is MISSING else f.default
        want = expected_default(default, f.metadata.get("none"))
        assert want in entries[flag], (f.name, want, entries[flag])
        assert f.metadata["help"].split(";")[0] in entries[flag]


def test_train_help_lists_the_registry_names(capsys, monkeypatch):
    from eegclf.models import list_activations, list_models

    entries = help_entries(capsys, monkeypatch, "train")
    assert ", ".join(list_models()) in entries["--model"]
    assert ", ".join(list_activations()) in entries["--act"]
    assert ", ".join(list_datasets()) in entries["--dataset"]


def test_every_loader_option_has_a_flag_naming_its_loader_and_default(capsys, monkeypatch):
    entries = help_entries(capsys, monkeypatch, "train")
    for name in list_datasets():
        module = loader_module(name)
        for option, default in module.DEFAULTS.items():
            flag = getattr(module, "FLAG_NAMES", {}).get(option, "--" + option.replace("_", "-"))
            assert flag in entries, f"{name} option {option}: no {flag} in 'eegclf train --help'"
            text = f"{name}: {module.OPTION_HELP[option]} {expected_default(default, 'none')}"
            assert text in entries[flag], (text, entries[flag])


def test_known_flags_keep_their_names(capsys, monkeypatch):
    entries = help_entries(capsys, monkeypatch, "train")
    for flag in ("--act", "--activation", "--no-max-norm", "--bn-recalibrate", "--bf16", "--seed", "--data-seed",
                 "--no-verify", "--n-train", "--subjects", "--model-kwargs", "--dataset-options", "--config"):
        assert flag in entries, flag
    for command in (("compare",), ("tune",)):
        entries = help_entries(capsys, monkeypatch, *command)
        assert "--epochs" in entries and "--dataset" in entries and "--n-train" in entries


def parse(*argv):
    return build_parser().parse_args(["train", *map(str, argv)])


def test_defaults_then_config_file_then_flags(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('epochs = 5\nlr = 0.1\nact = "relu"\nbf16 = true\n'
                    '[dataset_options]\nn_train = 96\nn_test = 64\n')
    config = config_from_args(parse("--config", path, "--lr", "0.2", "--n-test", "32", "--no-max-norm"))
    assert (config.epochs, config.lr, config.activation, config.bf16, config.max_norm) == (5, 0.2, "relu", True, False)
    assert config.dataset_options == {"n_train": 96, "n_test": 32}
    assert config.batch_size == RunConfig().batch_size  # neither file nor flag: the default
    config = config_from_args(parse("--config", path, "--bf16", "auto", "--dataset-options", '{"n_train": 48}',
                                    "--data-seed", "3", "--model-kwargs", '{"F1": 4}', "--bn-recalibrate"))
    assert config.bf16 is None and config.bn_recalibrate and config.model_kwargs == {"F1": 4}
    assert config.dataset_options == {"n_train": 48, "n_test": 64, "seed": 3}


def test_a_config_is_validated_when_made():
    with pytest.raises(ConfigError, match="epochs=0"):
        RunConfig(epochs=0)
    with pytest.raises(ConfigError, match="lr"):
        config_from_args(parse("--lr", "-1"))


@pytest.mark.parametrize("text", ['[1, 2]', "{nope"])
def test_a_json_flag_takes_a_table(text, capsys):
    with pytest.raises(SystemExit):
        parse("--model-kwargs", text)
    assert "--model-kwargs" in capsys.readouterr().err


def test_parameters_in_messages_become_the_flags_that_set_them():
    parser = build_parser()
    args = parser.parse_args(["eval", "--checkpoint", "x.safetensors", "--act", "relu"])
    flags = flags_of(parser, args)
    assert flags["activation"] == "--act" and flags["checkpoint"] == "--checkpoint"
    exc = CheckpointError("activation=relu contradicts the checkpoint x, which was trained with elu",
                          param="activation")
    assert in_flags(exc, flags) == "--act relu contradicts the checkpoint x, which was trained with elu"
    args = parser.parse_args(["tune", "--trials", "2"])
    exc = ConfigError("no study storage at s: give storage=URL, or out=FOLDER of the search", param=("storage", "out"))
    assert in_flags(exc, flags_of(parser, args)) == ("no study storage at s: give --storage URL, "
                                                     "or --out FOLDER of the search")
    # names the error does not declare, and parameters the command has no flag for, stay as they are
    assert in_flags(ConfigError("epochs=0 is invalid"), flags) == "epochs=0 is invalid"
    assert in_flags(ConfigError("trials=0 is invalid", param="trials"), flags) == "trials=0 is invalid"


def test_the_cli_says_library_parameters_as_flags(tmp_path, capsys):
    assert main(["tune", "--trials", "0", "--out", str(tmp_path / "t")]) == 2
    assert "eegclf: error: --trials 0 is invalid" in capsys.readouterr().err
    # the final retraining's --jobs is checked before the search starts, and nothing is written
    assert main(["tune", "--trials", "1", "--jobs", "0", "--out", str(tmp_path / "j")]) == 2
    assert "eegclf: error: --jobs 0 is invalid" in capsys.readouterr().err
    assert not (tmp_path / "j").exists()
    assert main(["data", "info", "bci3b", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pass --data-dir FOLDER" in err and "data_dir=" not in err
