"""Command line: ``stdp-ebm run CONFIG``, ``stdp-ebm list``, ``stdp-ebm keys CONFIG``,
``stdp-ebm plot RUN_DIR``, ``stdp-ebm data DIR``, ``stdp-ebm --version``.

Bad input (config, network file, flag) and failed runs print one line on stderr and exit with 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from . import experiments
from .errors import ConvergenceError, DivergenceError, OutLocked, UserError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"stdp-ebm: error: {printable(message)} (see {self.prog} --help)\n")


#: the most ``--workers`` accepted
MAX_WORKERS = 1024


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"at most {MAX_WORKERS} workers, got {text!r}")
    return value


def _cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count, where known)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


#: what ``stdp-ebm --help`` says the program does
DESCRIPTION = ("Rate and Brian2 spiking simulations of the STDP-compatible learning rule "
               "dW ~ pre-rate x d(post)/dt (Bengio et al. 2017): run an experiment config into a "
               "run directory, list the experiments, show a config's keys, redraw a run's "
               "figures, download the measured STDP points.")


def plain(text: str) -> str:
    """``text`` without reStructuredText markup (``code``, :func:`name`), for the terminal.

    Parameters
    ----------
    text : str
        E.g. an experiment's documentation.

    Returns
    -------
    str
        Roles (``:func:`~a.b```) replaced by their target, double backquotes removed.

    Examples
    --------
    >>> plain("run :func:`~stdp_ebm.rate.active_inputs` on ``x``")
    'run stdp_ebm.rate.active_inputs on x'
    """
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


class _Version(argparse.Action):
    """``--version``: ``stdp-ebm VERSION (where it is imported from)`` on one line (argparse's own
    version action wraps it at the terminal's width)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version and where the package is imported from", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        from . import __file__ as where, __version__

        print(f"stdp-ebm {__version__} ({os.path.dirname(where)})")
        parser.exit(0)


def _add_keys_parser(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="print a config's keys: value, default, allowed values and "
                                       "meaning")
    keys.add_argument("config", help="a shipped config's name (see stdp-ebm list), e.g. "
                                     "stdp_window, or a TOML file")
    keys.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a config key first, as stdp-ebm run does (repeatable)")


def _add_data_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="download the digitised Bi & Poo and Sjöström et al. points "
                                       "(not shipped; CC BY-NC-ND 4.0) into a directory")
    data.add_argument("dir", help="directory to put them in (created if needed); then run the STDP "
                                  "experiments with --set data.dir=DIR")
    data.add_argument("--url", help="a mirror holding the same files (checked against the same "
                                    "pinned SHA-256)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``stdp-ebm`` command line (docs/cli.md).

    Returns
    -------
    argparse.ArgumentParser
        With the sub-commands ``run``, ``list``, ``keys``, ``plot`` and ``data``; a usage error
        is one line and exit status 2.
    """
    parser = _Parser(prog="stdp-ebm", description=DESCRIPTION)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="{run,list,keys,plot,data}")
    run = sub.add_parser("run", help="run an experiment config into a new run directory")
    run.add_argument("config", nargs="?",
                     help="experiment config: a shipped name (see stdp-ebm list), e.g. alignment, "
                          "or a TOML file (with --resume: default the config of the run being "
                          "resumed)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set dynamics.epsilon=0.2 (repeatable)")
    run.add_argument("--out", help="run directory to create (default runs/<config>-<time>)")
    run.add_argument("--network", help="network file (.npz) to use instead of a random network")
    run.add_argument("--workers", type=_workers, default=None,
                     help="worker processes for sweeps (default: number of cores)")
    run.add_argument("--scheduler",
                     help="Dask scheduler address tcp://HOST:PORT for sweeps and for the spiking "
                          "learner's [learner] workers")
    run.add_argument("--resume", metavar="RUN_DIR",
                     help="finish the unfinished sweep in RUN_DIR (finished points are kept) or "
                          "continue the interrupted training run into RUN_DIR from its last epoch")
    run.add_argument("--model", help="which model runs the experiment, e.g. rate or spiking "
                                     "(shorthand for --set SECTION.model=NAME)")
    run.add_argument("--max-memory", metavar="SIZE",
                     help="memory the run may use, e.g. 4G or 512M (default: the memory available "
                          "now); a config estimated to need more is refused before it runs")
    run.add_argument("--allow-nonfinite", action="store_true",
                     help="accept a run whose headline numbers are NaN or infinite (exit 0; "
                          "default: the run directory is written and the exit status is 3)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress output (default: bars on a terminal, otherwise one status "
                          "line every 30 s)")
    sub.add_parser("list", help="list the experiments and the shipped configs")
    _add_keys_parser(sub)
    _add_data_parser(sub)
    plot = sub.add_parser("plot", help="redraw the figures of a finished run (of a training run in "
                                       "progress: those of its finished epochs)")
    plot.add_argument("run_dir")
    return parser


def _cmd_list() -> int:
    from .config import read_toml, shipped_configs

    rows = [(name, experiments.get(name).doc.strip().splitlines()[0])
            for name in sorted(experiments.REGISTRY)]
    configs = []
    for name, path in shipped_configs().items():
        description = str(read_toml(path).get("description", "")).strip().splitlines()
        configs.append((name, description[0] if description else ""))
    width = max(len(name) for name, _ in rows + configs)
    print("experiments:")
    for name, doc in rows:
        print(f"  {name:{width}s}  {plain(doc)}")
    print("\nshipped configs (stdp-ebm run NAME; stdp-ebm keys NAME shows their keys):")
    for name, doc in configs:
        print(f"  {name:{width}s}  {plain(doc)}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from .fetch import LICENCE, fetch_stdp_data

    print(f"Licence of the files: {LICENCE}")
    paths = fetch_stdp_data(args.dir, args.url)
    print(f"{len(paths)} files in {printable(args.dir)}; run the STDP experiments with "
          f"--set data.dir={printable(args.dir)}")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from . import runner
    from .config import describe_keys

    cfg, exp = runner.resolve(args.config, args.overrides)
    print(f"{printable(args.config)}: experiment {exp.name}: "
          f"{plain(exp.doc.strip().splitlines()[0])}")
    print("Each key: its value here (and the default where it differs), the allowed values and "
          "its meaning. Change one with --set SECTION.KEY=VALUE.\n")
    for line in describe_keys(cfg, exp.schema):
        print(plain(line))
    return 0


def _model_override(config: str | Path, model: str) -> str:
    """``--model NAME`` as a ``--set`` override of the experiment's ``model`` key."""
    from .config import read_toml

    name = read_toml(config).get("experiment")
    exp = experiments.get(name, str(config)) if isinstance(name, str) else None
    sections = [s for s, keys in exp.schema.items() if "model" in keys] if exp else []
    if not sections:
        raise UserError(f"--model {model}: experiment {name!r} has no choice of model")
    return f"{sections[0]}.model={model}"


def _resume_config(run_dir: Path) -> Path:
    """The config of the run to resume: an unfinished sweep's, or an interrupted training run's."""
    from .rundir import partial_directory

    for config in (run_dir / "config.toml", partial_directory(run_dir) / "config.toml"):
        if config.is_file():
            return config
    raise UserError(f"--resume {run_dir}: nothing to resume (no {run_dir}/config.toml and no "
                    f"interrupted run in {partial_directory(run_dir)})")


def _kept(exp: experiments.Experiment, out: Path) -> str:
    """Where the finished epochs of a failed resumable run are kept (nothing for others)."""
    from .rundir import holds_work, partial_directory

    partial = partial_directory(out)
    return f"; its finished epochs are kept in {partial}" if exp.resumable and \
        holds_work(partial) else ""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C of a run, with what it kept (the rest of the one line ``stdp-ebm: interrupted``)."""


def _what_was_kept(cfg: dict, exp: experiments.Experiment, out: Path) -> str:
    from .rundir import holds_work, partial_directory

    out_ = printable(str(out))
    if "sweep" in cfg:
        return (f"the finished points of {out_} are kept; the same command (or --resume {out_}) "
                "runs the others") if (out / "sweep.json").is_file() else "nothing was kept"
    if exp.resumable and partial_directory(out).is_dir():
        return (f"{out_} is unfinished; the same command (or --resume {out_}) continues from its "
                "last finished epoch" if holds_work(partial_directory(out)) else
                f"{out_} is unfinished (no epoch finished yet); the same command starts it again")
    return (f"nothing was kept: a run of {exp.name} is not resumable (its directory is written "
            "only when it finishes)")


def _cmd_run(args: argparse.Namespace) -> int:
    from . import runner
    from .config import find_config
    from .network import NetworkFile, load_network
    from .resources import check_memory, parse_size, set_memory_limit
    from .seeds import Seeds
    from .sweep import check_scheduler, variants

    if args.resume is not None and args.out is not None and Path(args.out) != Path(args.resume):
        raise UserError(f"--resume {args.resume} and --out {args.out}: give one run directory")
    config = args.config or (_resume_config(Path(args.resume)) if args.resume else None)
    if config is None:
        raise UserError("run: give a CONFIG file (or --resume RUN_DIR)")
    config = find_config(config)
    if args.scheduler is not None:
        check_scheduler(args.scheduler)
    set_memory_limit(parse_size(args.max_memory) if args.max_memory is not None else None)
    # read once (hashed and parsed from the same bytes); a bad network file fails here, before
    # anything is written
    network = NetworkFile.read(args.network) if args.network is not None else None
    net = load_network(network) if network is not None else None
    overrides = args.overrides + ([_model_override(config, args.model)] if args.model else [])
    cfg, exp = runner.resolve(config, overrides)
    workers = args.workers or _cores()
    points = len(cfg["sweep"]["seeds"]) * sum(1 for _ in variants(cfg)) if "sweep" in cfg else 1
    check_memory(variants(cfg) if "sweep" in cfg else [cfg], min(workers, points),
                 net.sizes if net else None, None if net is None or net.x is None else len(net.x))
    if args.resume is not None and "sweep" not in cfg and not exp.resumable:
        raise UserError(f"--resume {args.resume}: only sweeps and training runs can be resumed; "
                        f"{config} is neither")
    chosen = args.resume or args.out
    out = Path(chosen) if chosen else runner.default_out(config)
    progress = not args.quiet  # a bar on a terminal, a status line every 30 s elsewhere
    ctx = experiments.RunContext(seeds=Seeds(cfg["seed"]), network_path=network,
                                 progress=progress, workers=workers,
                                 options={"scheduler": args.scheduler,
                                          "resume": args.resume is not None,
                                          "allow_nonfinite": args.allow_nonfinite})
    try:
        for _ in range(100):
            try:
                runner.execute(cfg, exp, out, ctx)
                break
            except OutLocked:  # another run chose the same default name at the same instant
                if chosen:
                    raise
                out = runner.default_out(config)  # skips the name whose lock it holds
        else:
            raise UserError(f"{out.parent}: no free default run directory for {config}; give "
                            "--out")
    except (ConvergenceError, DivergenceError) as exc:  # name the inputs that failed numerically
        inputs = f"{config}" + (f" with --network {args.network}" if args.network else "")
        raise type(exc)(f"{inputs}: {exc}{_kept(exp, out)}") from None
    except UserError as exc:
        raise type(exc)(f"{exc}{_kept(exp, out)}") from None
    except KeyboardInterrupt:
        raise Interrupted(_what_was_kept(cfg, exp, out)) from None
    if not args.quiet:
        print(f"{exp.name}: wrote {printable(str(out))}")
    return 0


def printable(text: str) -> str:
    r"""``text`` with control, format and unencodable characters escaped as repr does.

    A name from input (a key, a path) can then neither break the line nor send terminal
    sequences.

    Parameters
    ----------
    text : str
        Text to print, e.g. an error message quoting user input.

    Returns
    -------
    str
        The text with every non-printable character but the space replaced by its escape.

    Examples
    --------
    >>> print(printable("a\nb\x1b[2J"))
    a\nb\x1b[2J
    """
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def main(argv: list[str] | None = None) -> int:
    """Run the ``stdp-ebm`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; ``sys.argv[1:]`` if None.

    Returns
    -------
    int
        The exit status: 0 done, 2 bad input or a failed run (one line on stderr), 3 a run whose
        headline numbers are not finite, 130 interrupted. A usage error exits (status 2) from
        the parser.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return _cmd_list()
        if args.command == "keys":
            return _cmd_keys(args)
        if args.command == "data":
            return _cmd_data(args)
        if args.command == "plot":
            from .runner import in_progress, replot
            partial = in_progress(args.run_dir)
            names = replot(args.run_dir)
            if partial is None:
                print(f"redrew {len(names)} figures in {Path(args.run_dir) / 'figures'}")
            else:
                print(f"a run in progress: drew {len(names)} figures of its finished epochs in "
                      f"{partial / 'figures'}")
            return 0
        return _cmd_run(args)
    except UserError as exc:  # 2; a finished run with non-finite results: 3 (NonFiniteResult)
        print(f"stdp-ebm: error: {printable(str(exc))}", file=sys.stderr)
        return getattr(exc, "exit_status", 2)
    except OSError as exc:  # a full disk, a permission, a path too long: at the file it names
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"stdp-ebm: error: {printable(where + (exc.strerror or str(exc)))}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # one line, saying what was kept
        kept = f"; {exc}" if isinstance(exc, Interrupted) and str(exc) else ""
        print(f"stdp-ebm: interrupted{kept}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
