"""Output formats for lint findings: text, json, github (workflow commands) and SARIF 2.1.0.

The JSON document is stable (documented in docs/ci.md):

    {"tool": "normlint", "version": "0.1.0", "schema": 1,
     "summary": {"files": 12, "findings": 3},
     "findings": [{"path": "...", "line": 7, "column": 5, "cell": null, "file_line": 7, "code": "NL101",
                   "name": "dropout-before-batchnorm", "message": "...", "help_url": "..."}]}

``fix`` is null or ``{"applicability": "safe"|"unsafe", "message", "edits": [{"start": {"line", "column"},
"end": {...}, "content"}]}`` (what ``normlint lint --fix`` would write; unsafe ones need ``--unsafe-fixes``).
In a notebook, ``cell`` is the code cell (1-based among code cells, as nbQA counts), ``line`` the line
in that cell and ``file_line`` the line of the .ipynb file; github and sarif annotate the .ipynb file
at ``file_line`` (SARIF also carries ``properties.cell``/``cellLine``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from normlint import __version__
from normlint.lint import nl000
from normlint.lint.engine import Finding
from normlint.lint.rules import ALL_RULES, RULES_BY_CODE
from normlint.lint.rules.base import page_url

FORMATS = ("text", "json", "github", "sarif")


def _name(code: str) -> str:
    rule = RULES_BY_CODE.get(code)
    return rule.name if rule else nl000.NAME


def severity(code: str) -> str:
    """"error" or "warning": NL000 is an error (a file went unchecked), each rule declares its own."""
    rule = RULES_BY_CODE.get(code)
    return rule.severity if rule else "error"


def _help(code: str, docs_url: str | None) -> str | None:
    """The page of a rule (or of NL000) under the docs-url setting; None without one."""
    return page_url(code, docs_url)


def printable_path(path: str) -> str:
    """A path for one line of text: control characters (a newline in a file name) as escapes."""
    if path.isprintable():
        return path
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in path)


def format_text(findings: Sequence[Finding]) -> str:
    return "".join(f"{printable_path(f.path)}:{f.where}: {f.message}\n" for f in findings)


def format_json(findings: Sequence[Finding], files: int, docs_url: str | None = None) -> str:
    import json  # only for these reports: not a text run's import

    doc = {
        "tool": "normlint",
        "version": __version__,
        "schema": 1,
        "summary": {"files": files, "findings": len(findings)},
        "findings": [
            {
                "path": f.path,
                "line": f.line if f.cell is None else f.cell_line,
                "column": f.col,
                "cell": f.cell,
                "file_line": f.line,
                "code": f.code,
                "name": _name(f.code),
                "severity": severity(f.code),
                "message": f.text,
                "help_url": _help(f.code, docs_url),
                "fix": _fix_json(f),
            }
            for f in findings
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _fix_json(f: Finding) -> dict | None:
    """The finding's fix: applicability, message and edits (1-based line/column of the linted text;
    in a notebook, of the cell: ``cell`` then names it)."""
    if f.fix is None:
        return None
    return {
        "applicability": f.fix.applicability,
        "message": f.fix.message,
        "edits": [
            {"start": {"line": e.start_line, "column": e.start_col}, "end": {"line": e.end_line, "column": e.end_col},
             "content": e.text}
            for e in f.fix.edits
        ],
    }


def _sarif_fixes(f: Finding) -> dict:
    """SARIF ``fixes`` for a .py finding (a notebook's edits are in cell coordinates, not the file's)."""
    if f.fix is None or f.cell is not None:
        return {}
    replacements = [
        {"deletedRegion": {"startLine": e.start_line, "startColumn": e.start_col, "endLine": e.end_line,
                           "endColumn": e.end_col},
         "insertedContent": {"text": e.text}}
        for e in f.fix.edits
    ]
    return {"fixes": [{"description": {"text": f"{f.fix.message} ({f.fix.applicability})"},
                       "artifactChanges": [{"artifactLocation": {"uri": _uri(f.path), "uriBaseId": "%SRCROOT%"},
                                            "replacements": replacements}]}]}


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github_command(level: str, path: str, line: int, col: int | None, title: str, message: str) -> str:
    props = [f"file={_escape_property(path)}", f"line={line}"]
    if col is not None:
        props.append(f"col={col}")
    props.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def format_github(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        where = f"cell {f.cell}, line {f.cell_line}: " if f.cell is not None else ""
        col = f.col if f.cell is None else None  # a column of the cell's text is not one of the .ipynb file's
        lines.append(github_command(severity(f.code), f.path, f.line, col, f"{f.code} {_name(f.code)}", where + f.text))
    return "".join(line + "\n" for line in lines)


def _uri(path: str) -> str:
    """A SARIF artifact URI: relative to the working directory where it can be, percent-encoded
    (``my model.py`` -> ``my%20model.py``, ``hash#1.py`` -> ``hash%231.py``)."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri()
    return quote(p.as_posix(), safe="/")


def sarif_document(findings: Sequence[Finding], docs_url: str | None = None) -> dict:
    """SARIF 2.1.0: each rule carries its whole page (help.text/markdown), so an annotation explains itself
    without a link; helpUri only under the docs-url setting."""
    rules = [
        {
            "id": nl000.CODE,
            "name": nl000.NAME,
            "shortDescription": {"text": nl000.SUMMARY},
            "help": {"text": nl000.PAGE, "markdown": nl000.PAGE},
            "defaultConfiguration": {"level": "error"},
        }
    ] + [
        {
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": " ".join(r.what.split())},
            **({"helpUri": r.help_url(docs_url)} if docs_url else {}),
            "help": {"text": r.page(), "markdown": r.page()},
            "defaultConfiguration": {"level": r.severity},
            "properties": {"tags": ["normalization", "keras"]},
        }
        for r in ALL_RULES
    ]
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": index.get(f.code, 0),
            "level": severity(f.code),
            "message": {"text": f.text},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": f.line, **({"startColumn": f.col} if f.cell is None else {})},
                    }
                }
            ],
            **({"properties": {"cell": f.cell, "cellLine": f.cell_line}} if f.cell is not None else {}),
            **_sarif_fixes(f),
        }
        for f in findings
    ]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "normlint",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def format_findings(findings: Sequence[Finding], fmt: str, files: int, docs_url: str | None = None) -> str:
    if fmt == "json":
        return format_json(findings, files, docs_url)
    if fmt == "github":
        return format_github(findings)
    if fmt == "sarif":
        import json  # only for these reports: not a text run's import

        return json.dumps(sarif_document(findings, docs_url), indent=2) + "\n"
    return format_text(findings)


# ---------------------------------------------------------------------- normlint check reports
def _fmt_err(check: dict) -> str:
    if "max_abs" not in check:
        return ""
    return f"{check['max_abs']:.1e}/{check['max_rel']:.1e}"


def format_check_text(path: str, static: Sequence[Finding], result: dict) -> str:
    out = [f"normlint check {path}"]
    if static:
        errors, warnings = static_counts(static)
        out.append(f"static rules: {errors} error(s), {warnings} warning(s)")
        out.extend(f"  {f.path}:{f.line}:{f.col}: {f.code} [{severity(f.code)}] {f.text}" for f in static)
    else:
        out.append("static rules: no findings")
    for model in result.get("models", []):
        layers = model["layers"]
        out.append("")
        out.append(
            f"model {model['name']}: input {tuple(model['input_shape'])}, probe batch {tuple(model['probe'])}, "
            f"{len(layers)} normalization layer(s)"
        )
        if not layers:
            out.append("  (no BatchNormalization/LayerNormalization/GroupNormalization/Normalization layer found)")
            continue
        rows = [("status", "layer", "class", "checks", "max abs/rel err", "normalizes")]
        for layer in layers:
            checks = " ".join(
                f"{c['name']}{'' if c['status'] == 'pass' else '!' if c['status'] == 'warn' else ' FAIL'}" for c in layer["checks"]
            )
            errs = [c for c in layer["checks"] if "max_abs" in c]
            worst = max(errs, key=lambda c: c["max_abs"]) if errs else None
            rows.append((layer["status"].upper(), layer["layer"], layer["class"], checks,
                         _fmt_err(worst) if worst else "-", layer["normalizes"]))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            out.append("  " + "  ".join(cell.ljust(widths[i]) if i < len(r) - 1 else cell for i, cell in enumerate(r)))
        for layer in layers:
            for c in layer["checks"]:
                if c["status"] != "pass":
                    code = f" [{c['code']}]" if c.get("code") else ""
                    err = f" (max abs err {c['max_abs']:.3g}, rel {c['max_rel']:.3g})" if "max_abs" in c else ""
                    where = f" (line {layer['line']})" if layer.get("line") else ""
                    out.append(f"  {c['status'].upper()} {layer['layer']}{where}: {c['name']}{code}: {c['detail']}{err}")
    runtime = runtime_failures(result)
    errors, warnings = static_counts(static)
    out.append("")
    if runtime or errors:
        out.append(f"{runtime} failed runtime check(s), {errors} static error(s)"
                   + (f", {warnings} static warning(s)" if warnings else ""))
    else:
        out.append("all checks passed" + (f" ({warnings} static warning(s))" if warnings else ""))
    return "\n".join(out) + "\n"


def runtime_failures(result: dict) -> int:
    return sum(1 for m in result.get("models", []) for layer in m["layers"] for c in layer["checks"] if c["status"] == "fail")


def static_counts(static: Sequence[Finding]) -> tuple[int, int]:
    errors = sum(1 for f in static if severity(f.code) == "error")
    return errors, len(static) - errors


def check_failures(static: Sequence[Finding], result: dict) -> int:
    """What makes `normlint check` exit 1: failed runtime checks and error-severity static findings."""
    return runtime_failures(result) + static_counts(static)[0]


def format_check_json(path: str, static: Sequence[Finding], result: dict) -> str:
    import json  # only for these reports: not a text run's import

    doc = {
        "tool": "normlint",
        "version": __version__,
        "schema": 1,
        "file": path,
        "static": json.loads(format_json(static, 1))["findings"],
        "models": result.get("models", []),
        "failed": check_failures(static, result),
        "runtime_failed": runtime_failures(result),
        "static_errors": static_counts(static)[0],
        "static_warnings": static_counts(static)[1],
        "timings": result.get("timings", {}),
    }
    return json.dumps(doc, indent=2) + "\n"


def format_check_github(path: str, static: Sequence[Finding], result: dict) -> str:
    lines = [format_github(static).rstrip("\n")] if static else []
    for model in result.get("models", []):
        for layer in model["layers"]:
            for c in layer["checks"]:
                if c["status"] == "pass":
                    continue
                level = "error" if c["status"] == "fail" else "warning"
                title = f"normlint check {c.get('code') or c['name']}"
                line = layer.get("line") or 1
                lines.append(github_command(level, path, line, None, title, f"{layer['layer']} ({layer['class']}): {c['detail']}"))
    return "".join(line + "\n" for line in lines)
