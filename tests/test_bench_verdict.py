"""The benchmark scripts' verdict on a paired-rounds target (benchmarks/corpus.py): the interval of the median
is the sign test's, as its tables give it, and the verdict says PASS only when that interval is under the target."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("bench_corpus", Path(__file__).resolve().parent.parent / "benchmarks" / "corpus.py")
corpus = importlib.util.module_from_spec(_SPEC)  # type: ignore[arg-type]
_SPEC.loader.exec_module(corpus)  # type: ignore[union-attr]


@pytest.mark.parametrize("n, ranks", [(6, (1, 6)), (9, (2, 8)), (15, (4, 12)), (31, (10, 22)), (61, (23, 39))])
def test_the_interval_is_the_sign_tests_order_statistics(n, ranks):
    values = [float(v) for v in range(n, 0, -1)]  # any order: the interval reads the sorted values
    assert corpus.median_interval(values) == (float(ranks[0]), float(ranks[1]))


def test_too_few_rounds_give_no_interval_and_the_median_alone_decides():
    assert corpus.median_interval([1.0, 1.1, 1.2, 1.3, 1.4]) is None
    assert corpus.verdict([1.05, 1.06, 1.2], 1.10)[0] == "PASS"
    assert corpus.verdict([1.05, 1.16, 1.2], 1.10)[0] == "FAIL"


def test_pass_needs_the_whole_interval_under_the_target():
    under = [1.02 + 0.001 * i for i in range(31)]
    straddling = [1.05 + 0.003 * i for i in range(31)]  # median 1.095, upper end of the interval 1.113
    over = [1.09 + 0.002 * i for i in range(31)]  # median 1.12
    assert corpus.verdict(under, 1.10)[0] == "PASS"
    assert corpus.verdict(straddling, 1.10)[0] == "UNDECIDED"
    assert corpus.verdict(over, 1.10)[0] == "FAIL"
    assert "95 % interval of the median 1.077-1.113" in corpus.verdict(straddling, 1.10)[1]
