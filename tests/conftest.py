"""pytest options of the suite: ``--update-fixtures`` rewrites the expected-output files of the fixtures."""

from __future__ import annotations


def pytest_addoption(parser):
    parser.addoption(
        "--update-fixtures", action="store_true", default=False,
        help="rewrite fixtures/**/X.txt (line:col CODE message) from what normlint reports now",
    )
