"""The ``fastnn`` command (also ``python -m fastnn``).

    fastnn info      versions, backends, threads, BLAS library and kernel cache
    fastnn warmup    compile (or load from the cache) every cpu kernel ahead of time
"""

from __future__ import annotations

import argparse
import sys

from . import runtime


def _info(args) -> int:
    print(runtime.info())
    return 0


def _warmup(args) -> int:
    seconds = runtime.warmup(tuple(args.dtype), verbose=args.verbose)
    print(f"cpu kernels ready for {', '.join(args.dtype)} in {seconds:.1f} s "
          f"(cache: {runtime.kernel_cache_dir() if runtime.cache_enabled() else 'off'})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastnn", description="fastnn command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("info", help="print versions, backends, threads, BLAS and cache directory").set_defaults(run=_info)
    warm = sub.add_parser("warmup", help="compile every cpu kernel ahead of time")
    warm.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    warm.add_argument("--verbose", action="store_true", help="print each kernel as it compiles")
    warm.set_defaults(run=_warmup)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
