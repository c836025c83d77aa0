"""Command-line options generated from the settings table (pipeline.settings.SETTINGS): one
``--<name>`` per setting with its default, range or choices in the help. Both command lines
(``python -m pipeline mesh`` and the Blender batch) use it, so neither retypes a default."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..settings import CLI_SETTINGS, SETTINGS, default, field_type


def flag(name: str) -> str:
    """The command-line flag of a setting: ``depth_threshold`` -> ``--depth-threshold``."""
    return "--" + name.replace("_", "-")


def _cli_value(name: str) -> Callable[[str], Any]:
    """Parses an option's text. Choice identifiers are matched without regard to case
    (``--depth-kind depth``); a value outside the choices is left for ``validate`` to refuse
    with its one-line message."""
    kind = field_type(name)
    ids = {i.lower(): i for i in SETTINGS[name].ids}

    def parse(text: str) -> Any:
        if ids and not SETTINGS[name].choices_open:
            text = ids.get(text.strip().lower(), text)
        return {"int": int, "float": float}.get(kind, str)(text)

    parse.__name__ = kind  # argparse names the type in its "invalid int value" message
    return parse


def add_cli_options(parser: Any, names: Iterable[str] = CLI_SETTINGS) -> None:
    """Add one option per setting to an argparse parser or argument group: ``--<name>``,
    stored under the field's name, with its default, range or choices in the help."""
    for name in names:
        spec = SETTINGS[name]
        value = default(name)
        limits = f"; {spec.range[0]:g} to {spec.range[1]:g}" if spec.range else ""
        if spec.choices:
            limits = f"; {', '.join(i.lower() for i in spec.ids)}"  # any case is accepted
        text = spec.description[0].lower() + spec.description[1:]
        parser.add_argument(
            flag(name),
            dest=name,
            type=_cli_value(name),
            default=value,
            metavar=name.upper() if not spec.choices else None,
            help=f"{text} (default: {str(value).lower() if spec.choices else value}"
            f"{limits})".replace("%", "%%"),
        )


def cli_keywords(args: Any, names: Iterable[str] = CLI_SETTINGS) -> dict[str, Any]:
    """The settings' values of parsed command-line arguments, as PipelineSettings keywords."""
    return {name: getattr(args, name) for name in names}
