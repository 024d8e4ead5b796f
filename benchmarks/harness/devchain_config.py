"""A dev chain's TOML file, read through relayhub's typed config loader.

App chains import nothing of the relay, so the dev chain's file is loaded here:
:class:`~appchains.evm.devchain.config.DevchainConfig` is the schema of its
``[devchain]`` table (field metadata gives each key's meaning and marks durations),
:func:`load_devchain_config` builds it with :mod:`relay.config`'s rules (durations
with a unit, unknown keys refused, errors naming file and key) and runs its checks.

``python -m benchmarks.harness.devchain_config --config FILE [flags]`` runs a dev
chain from the file (the dev chain's own flags override it), logging in relayhub's
shared format (relay/logs.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from appchains.evm.devchain.config import ConfigError as DevchainCheckError
from appchains.evm.devchain.config import DevchainConfig
from relay.config import ConfigError, ConfigKind, load_mapping, read_toml


def load_devchain_config(path: Path, *, check: bool = True) -> DevchainConfig:
    """The ``[devchain]`` table of ``path`` as a DevchainConfig (paths relative to the
    file), checked by ``DevchainConfig.check`` unless ``check`` is False."""
    doc = read_toml(path)
    problems = [f"{path}: {k}: unknown key (known: devchain)" for k in doc if k != "devchain"]
    if not isinstance(doc.get("devchain"), dict):
        problems.append(f"{path}: devchain: required (a table)")
    if problems:
        raise ConfigError(problems)
    config = load_mapping(
        DevchainConfig, doc["devchain"], key="devchain", file=str(path), base=path.parent
    )
    if check:
        try:
            config.check()
        except DevchainCheckError as exc:
            raise ConfigError([f"{path}: devchain: {exc}"]) from None
    return config


DEVCHAIN_KIND = ConfigKind(
    "devchain",
    "devchain",
    load_devchain_config,
    lambda: (("`[devchain]`", "devchain.", DevchainConfig),),
)


def main(argv: list[str] | None = None) -> int:
    """``--config FILE`` plus the dev chain's flags (``python -m appchains.evm.devchain``)."""
    from appchains.evm.devchain import __main__ as devchain_main
    from relay.logs import setup_logging

    try:
        argv, base = _take_config(list(sys.argv[1:] if argv is None else argv))
    except ConfigError as exc:
        return _print_problems(exc)
    return devchain_main.main(argv, base=base, setup_logging=setup_logging)


def _take_config(argv: list[str]) -> tuple[list[str], DevchainConfig | None]:
    """``argv`` without ``--config FILE``, and that file's values (unchecked: the flags
    given with it may still fix what it lacks)."""
    if "--config" not in argv:
        return argv, None
    i = argv.index("--config")
    if i + 1 >= len(argv):
        raise ConfigError(["--config needs a FILE"])
    base = load_devchain_config(Path(argv[i + 1]), check=False)
    return argv[:i] + argv[i + 2 :], base


def _print_problems(exc: ConfigError) -> int:
    """One ``error [code]: problem`` line each on stderr; the exit status 2."""
    for problem in exc.problems:
        print(f"error [{exc.code}]: {problem}", file=sys.stderr)
    return 2


def command(argv: list[str]) -> int:
    """``relayhub devchain start [--config FILE] [flags]`` (the ``relayhub.commands``
    entry point): the file is read here, through relayhub's loader, then the app
    chain's own command runs with it as the base of its flags."""
    from appchains.evm.devchain.cli import cli
    from relay.logs import setup_logging

    argv = list(argv)
    if argv and argv[0] == "start":
        try:
            rest, base = _take_config(argv[1:])
        except ConfigError as exc:
            return _print_problems(exc)
        return cli(["start", *rest], base=base, setup_logging=setup_logging)
    return cli(argv, setup_logging=setup_logging)


if __name__ == "__main__":
    sys.exit(main())
