"""``python -m tools.soak [--quick]``: the cluster fault soak (see tools/soak/__init__.py)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path

from tools.soak import __doc__ as DOC
from tools.soak.run import QUICK, Config, soak, summary, write_json
from tools.soak.services import missing


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="2 nodes, 6 senders, 4 faults, a 5 s blackhole: about 30 s")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="where to write the result (default "
                             "benchmarks/results/cluster-soak[-quick].json)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="keep the nodes' data dirs and logs, and what each member "
                             "recorded (members.json), in DIR (emptied first)")
    defaults = Config()
    for field in dataclasses.fields(Config):  # each setting: --node-kills 20, --calm 30, ...
        default = getattr(defaults, field.name)
        parser.add_argument("--" + field.name.replace("_", "-"), type=type(default),
                            default=None, help=f"(default {default}; quick "
                                               f"{getattr(QUICK, field.name)})")
    args = parser.parse_args()
    reason = missing()
    if reason is not None:
        print(f"cannot soak: {reason}", file=sys.stderr)
        return 2
    config = QUICK if args.quick else defaults
    config = dataclasses.replace(config, **{
        field.name: getattr(args, field.name) for field in dataclasses.fields(Config)
        if getattr(args, field.name) is not None})
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(soak(config, keep=args.keep))
    else:
        result = uvloop.run(soak(config, keep=args.keep))
    path = args.json or Path("benchmarks/results") / (
        "cluster-soak-quick.json" if args.quick else "cluster-soak.json")
    write_json(result, path)
    print(summary(result))
    print(f"result: {path}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
