"""The wire's share of one default-path call, alone: decoding the benchmark's arguments
(``Arguments.decode_pairs``) and encoding its result (``Result.encode``), N times each.

    python -m benchmarks.wire_call [N]          # µs per call, best of many rounds
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python -m benchmarks.wire_call --decode N      # one part, N calls, for an instruction count

Instructions per call: the count with N=3000 less the count with N=1000, over 2000 (so that the
start-up cancels out), less the same for ``--none`` (making the pairs).

The method, its body and its answer are the ones ``make bench`` serves (``benchmarks/peers``);
the pairs are what the pipeline hands the decoder (the form, ``authorisation`` taken out).
"""

from __future__ import annotations

import inspect
import sys
import time
import typing
from urllib.parse import parse_qsl

from benchmarks.peers import common
from interlink.wire import Arguments, Parameter, Result


def setup() -> tuple[Arguments, Result, list[tuple[str, str]], list[common.User]]:
    signature = inspect.signature(common.list_users)
    hints = typing.get_type_hints(common.list_users)
    arguments = Arguments(
        [Parameter(name, hints[name], p.default) for name, p in signature.parameters.items()], title="home.list_users"
    )
    result = Result(hints["return"])
    pairs = [(k, v) for k, v in parse_qsl(common.form_body()) if k != "authorisation"]
    users = common.list_users(**arguments.decode_pairs(list(pairs)))
    assert result.encode(users) == common.expected_answer()
    return arguments, result, pairs, users


def fresh(pairs: list[tuple[str, str]], n: int) -> list[list[tuple[str, str]]]:
    """n calls' own pairs, as from n bodies: strings whose hash is not computed yet."""
    return [[(name.encode().decode(), value.encode().decode()) for name, value in pairs] for _ in range(n)]


def best_of(run: typing.Callable[[list[list[tuple[str, str]]]], None], pairs: list[tuple[str, str]], n: int, rounds: int = 30) -> float:
    best = float("inf")
    for _ in range(rounds):
        calls = fresh(pairs, n)
        start = time.process_time()
        run(calls)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


def main(argv: list[str]) -> None:
    arguments, result, pairs, users = setup()
    decode_pairs, encode = arguments.decode_pairs, result.encode

    def decode_all(calls: list[list[tuple[str, str]]]) -> None:
        for call in calls:
            decode_pairs(call)

    def encode_all(calls: list[list[tuple[str, str]]]) -> None:
        for _ in calls:
            encode(users)

    def nothing(calls: list[list[tuple[str, str]]]) -> None:
        for _ in calls:
            pass

    n = int(argv[-1]) if argv and argv[-1].isdigit() else 2000
    if argv and argv[0].startswith("--"):  # one part, for an instruction count
        {"--decode": decode_all, "--encode": encode_all, "--none": nothing}[argv[0]](fresh(pairs, n))
        return
    decode_us, encode_us = best_of(decode_all, pairs, n), best_of(encode_all, pairs, n)
    print(f"decode {decode_us:.2f} µs, encode {encode_us:.2f} µs per call (best of 30 rounds of {n})")


if __name__ == "__main__":
    main(sys.argv[1:])
