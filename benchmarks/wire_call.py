"""The wire's share of one default-path call, alone: decoding the benchmark's arguments
(``Arguments.decode_pairs``) and encoding its result (``Result.encode``), N times each.

    python -m benchmarks.wire_call [N]          # µs per call, best of many rounds
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python -m benchmarks.wire_call --decode 2000   # instructions: subtract a --none run

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


def best_of(run: typing.Callable[[int], None], n: int, rounds: int = 30) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run(n)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


def main(argv: list[str]) -> None:
    arguments, result, pairs, users = setup()
    decode_pairs, encode = arguments.decode_pairs, result.encode

    def decode_n(n: int) -> None:
        for _ in range(n):
            decode_pairs(pairs[:])  # a fresh list, as each call gets

    def encode_n(n: int) -> None:
        for _ in range(n):
            encode(users)

    def none_n(n: int) -> None:
        for _ in range(n):
            pairs[:]

    if argv and argv[0].startswith("--"):  # one part, for an instruction count
        part = {"--decode": decode_n, "--encode": encode_n, "--none": none_n}[argv[0]]
        part(int(argv[1]) if len(argv) > 1 else 2000)
        return
    n = int(argv[0]) if argv else 2000
    print(f"decode {best_of(decode_n, n):.2f} µs, encode {best_of(encode_n, n):.2f} µs per call (best of 30 rounds of {n})")


if __name__ == "__main__":
    main(sys.argv[1:])
