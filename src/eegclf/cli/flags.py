"""The flags of a RunConfig, made from its fields: names, types, help and defaults come from ``RunConfig``.

Each field becomes ``--field-name`` (or the ``flags`` of its metadata) with ``dest`` the field's name; its
help is the field's ``help`` plus the valid names (looked up only when help is shown: the model registry
imports torch) and the RunConfig default. A flag not given is None, so that a config file's value stays:
defaults < ``--config`` file < command line, put together by :func:`config_from_args`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import typing
from dataclasses import MISSING, Field, fields

from eegclf.cli.common import add_loader_args, dataset_options, show_default
from eegclf.config import RunConfig, read_config_file

TRAINING = "training"


class _Names:
    """``%(names)s`` of a help text: the valid names, from ``module:function``, computed when shown."""

    def __init__(self, where: str):
        self.where = where

    def __str__(self) -> str:
        module, _, function = self.where.partition(":")
        return ", ".join(getattr(importlib.import_module(module), function)())


def _json_table(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"expected a JSON table such as '{{\"key\": 1}}', got {text!r} "
                                         f"({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON table such as '{{\"key\": 1}}', got {text!r}")
    return value


def field_default(f: Field):
    return f.default_factory() if f.default is MISSING else f.default


def _value_type(f: Field):
    """The field's type without its ``| None``."""
    hint = typing.get_type_hints(RunConfig)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def config_field(name: str) -> Field:
    return next(f for f in fields(RunConfig) if f.name == name)


def add_field_arg(group, name: str, help: str | None = None, default: str | None = None) -> argparse.Action:
    """The flag of RunConfig field ``name`` in ``group``; ``help`` replaces the field's help text and
    ``default`` (text) what is shown as its default (``""``: nothing)."""
    f = config_field(name)
    meta = f.metadata
    if not meta.get("help"):
        raise TypeError(f"RunConfig.{name} has no help in its metadata: every field needs one for its flag")
    kwargs: dict = {"dest": name, "default": None}
    kind = _value_type(f)
    if "switch" in meta:
        kwargs.update(action="store_const", const=meta["switch"])
    elif "choices" in meta:
        kwargs["choices"] = list(meta["choices"])
    elif kind is dict:
        kwargs.update(type=_json_table, metavar="JSON")
    elif kind in (int, float, str):
        kwargs["type"] = kind
    else:
        raise TypeError(f"RunConfig.{name}: give its metadata a switch or choices for a {kind} value")
    if "metavar" in meta:
        kwargs["metavar"] = meta["metavar"]
    action = group.add_argument(*meta.get("flags", ("--" + name.replace("_", "-"),)), **kwargs)
    text = (help or meta["help"]).replace("%", "%%")
    if "names" in meta:
        action.names = _Names(meta["names"])
        text += "; one of %(names)s"
    shown = show_default(field_default(f), meta.get("none", "none")) if default is None else default
    action.help = f"{text} {shown}".strip()  # set after add_argument, which may check the help's %-fields
    return action


def add_config_args(parser: argparse.ArgumentParser, skip=(), help: dict | None = None) -> None:
    """Flags for every RunConfig field but ``skip``, the data loaders' options and ``--config``, in the
    argument groups of the fields' metadata; ``help`` replaces a field's help text ({field: text})."""
    groups: dict = {}
    names = [f.name for f in fields(RunConfig) if f.name not in skip]
    for name in names:
        group_name = config_field(name).metadata.get("group", TRAINING)
        if group_name not in groups:
            groups[group_name] = parser.add_argument_group(group_name)
        add_field_arg(groups[group_name], name, help=(help or {}).get(name))
    add_loader_args(groups.get("data set") or parser.add_argument_group("data set"))
    groups.get(TRAINING, parser).add_argument(
        "--config", help="a TOML, YAML or JSON file of RunConfig keys; flags override it")
    parser.set_defaults(config_fields=tuple(names))


def given_values(args: argparse.Namespace) -> dict:
    """The RunConfig values the user gave, by field name: the ``--config`` file's, overridden by the flags
    typed (loader flags into ``dataset_options``); nothing a default fills. Not checked yet."""
    values = RunConfig.normalize_keys(read_config_file(args.config)) if getattr(args, "config", None) else {}
    for name in args.config_fields:
        value = getattr(args, name)
        if value is None:
            continue
        choices = config_field(name).metadata.get("choices")
        if isinstance(choices, dict):
            value = choices[value]
        if isinstance(value, dict) and isinstance(values.get(name), dict):
            value = {**values[name], **value}  # a table on the command line overrides the file's keys
        values[name] = value
    options = dataset_options(args)
    if options:
        given = values.get("dataset_options", {})
        # a file's dataset_options that is no table is refused by the RunConfig made of it
        values["dataset_options"] = {**given, **options} if isinstance(given, dict) else given
    return values


def config_from_args(args: argparse.Namespace, defaults: dict | None = None) -> RunConfig:
    """The command's RunConfig: RunConfig's defaults < the command's ``defaults`` (e.g. a recommended recipe)
    < ``--config`` file < flags, built (and so validated) once. A table in ``defaults`` is updated key by key."""
    given = given_values(args)
    values = {**(defaults or {}), **given}
    for name, value in (defaults or {}).items():
        if isinstance(value, dict) and isinstance(given.get(name), dict):
            values[name] = {**value, **given[name]}
    return RunConfig.from_dict(values)


def show_command_defaults(parser: argparse.ArgumentParser, defaults: dict, why: str) -> None:
    """Make the help of each RunConfig flag in ``defaults`` show the command's own default (``why`` says
    whose, e.g. "the recommended pre-training recipe") instead of RunConfig's."""
    for action in parser._actions:  # argparse has no public way to reach an added argument
        if action.dest in defaults and action.help:
            text = action.help.rsplit(" (default", 1)[0]
            action.help = f"{text} {show_default(defaults[action.dest])[:-1]}: {why})"


def add_allow_seen(parser) -> None:
    """``--allow-seen``: measure a network on people it was trained on (eegclf.data.seen), which is refused by default."""
    parser.add_argument("--allow-seen", action="store_true",
                        help="measure on people the network was trained on (found by id or by their recordings), "
                        "which is refused by default; the output then says 'seen in training' beside the number")
