"""Command line: python -m guide train | evaluate | embed | bench | data fetch.

python -m guide train                      # joint training -> assets/model (safetensors + JSON)
python -m guide evaluate [--json] [--full] # metrics of the shipped model (+ STL twins, product split)
python -m guide evaluate --ood --save      # only the out-of-domain section, merged into the saved report
python -m guide embed                      # fill the embedding cache for the catalogue and reviews
python -m guide bench                      # load time and request latency of the Guide
"""

from __future__ import annotations

import argparse
import logging
import sys

from guide.cli import artifact_commands, evaluation_commands, training_commands


def parser() -> argparse.ArgumentParser:
    """The root parser; each command group (`guide/cli/`) adds its commands, arguments and handler (`run`)."""
    root = argparse.ArgumentParser(
        prog="python -m guide", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    root.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = root.add_subparsers(dest="command", required=True)
    for commands in (training_commands, evaluation_commands, artifact_commands):
        commands.add_commands(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
