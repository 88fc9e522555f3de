"""NL000: the engine's own code for a file it could not read or analyse (no rule class: nothing to match)."""

from __future__ import annotations

CODE = "NL000"
NAME = "file-not-analysed"
SUMMARY = "A file could not be read, parsed or analysed: it was not checked, and the message says why."

PAGE = f"""# {CODE} {NAME}

{SUMMARY}

## What it does
Reports, as one finding at the place the problem was found, every file that normlint did not check:

- **cannot parse (Python X.Y)**: the running interpreter's grammar rejects the file. The message and
  position are CPython's own (`print "x"` is "Missing parentheses in call to 'print'", a mixed-tab file is a
  `TabError` on its line). Which Python decides is the one normlint runs under, for every file alike.
- **cannot read**: the file could not be opened or decoded (a bad PEP 263 coding cookie, Latin-1 bytes in a
  UTF-8 file), or it is larger than normlint reads at all (64 MiB).
- **not analysed**: the file parses, but normlint could not analyse it: it is over `max-file-size`
  (default 512K; the analysis takes ~0.9 KB of memory per source byte), it nests too deeply even on a large
  stack, libcst cannot parse what CPython accepts, or the worker process linting it died (killed by a signal
  or out of memory).

Files that are not regular files (FIFOs, devices, links to them) are never read: `normlint lint` skips
them with a note on stderr. A path that does not exist or a folder that cannot be listed is an error on
stderr and makes the run exit 2, after every other path has been linted.

## Why is this bad?
A file normlint did not check is not a clean file. Saying "no findings" for it would be the worst answer a
linter can give, so it is always a finding, and `--select` cannot turn it off.

## Example
```python
print "starting"          # NL000 cannot parse (Python 3.11): Missing parentheses in call to 'print'...
```

## Use instead
Fix the syntax, or run normlint under the Python version the code is written for. For a large generated
file, raise the limit (`--max-file-size 2M` or `max-file-size = "2M"` in `[tool.normlint]`) or exclude it.

## References
- normlint README: "A file that does not parse is one NL000 finding and the run goes on."
"""
