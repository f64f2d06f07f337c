"""The `pinewire` command. Errors are one clear line, never a traceback."""
from __future__ import annotations

import argparse
import logging
import sys

from pinewire.verbs import (accounts, backtest, kafka, links, notify, positions, services,
                            strategies, trading, users)
from schemas.settings import settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pinewire", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for group in (services, kafka, links, accounts, positions, strategies, backtest, notify,
                  trading, users):
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    service = args.fn in services.SERVICES
    logging.basicConfig(level=settings().log_level.upper() if service else "WARNING",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not service:   # a one-shot command says in one line when Kafka cannot be reached
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return args.fn(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line for the operator
        print(f"pinewire: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
