#!/usr/bin/env python3
"""SQLGlot's side of `cargo xtask bench`: times `sqlglot.optimizer.optimize` per rule.

    python sqlglot_bench.py PACK [--runs K] [--dialect NAME]

For every rule of the rule pack PACK (each `.sql` file below it, as rulec finds them) it times

    optimize(parse_one(sql, read=dialect), schema=schema, dialect=dialect)

so the time includes parsing, as rulec's does. `schema` is built once, before timing, from
the pack's contracts (`contracts/*.yaml`: `table:` and `columns:` with `name` and `type`),
with rulec's types mapped to SQL types (int32 -> INT, int64 -> BIGINT, utf8 -> VARCHAR,
decimal(p,s) -> DECIMAL(p,s), date32 -> DATE, float64 -> DOUBLE, bool -> BOOLEAN, ...).
One untimed pass over every rule comes first (it warms the interpreter's caches and finds
the rules SQLGlot cannot optimize: those are reported under "failed" and not timed); then
K timed passes. Prints one JSON object to stdout:

    {"pack": "tpch", "sqlglot": "30.30.0", "compiled": false, "python": "3.11.7",
     "dialect": null, "runs": 10, "tables": 8,
     "queries": [{"name": "q01", "median_ms": 20.1, "min_ms": 19.8, "max_ms": 23.0}, ...],
     "failed": [{"name": "q99", "error": "OptimizeError: ..."}],
     "median_ms": 41.0, "total_ms": 1050.2}

`median_ms` is the median over queries of the per-query medians, `total_ms` their sum;
`compiled` tells whether SQLGlot's optional mypyc build (`pip install sqlglot[c]`) is loaded.
Only the standard library and sqlglot are needed: the contracts' YAML is read by a small
reader of the subset rulec contracts use (block mappings, `- {flow: mappings}` items,
quoted scalars, `>-` / `|` block scalars, comments).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time

# Directories below a pack root that hold no rules (as rulec's PackFiles::read_dir).
SKIPPED_DIRS = {"contracts", "data", "out", "target"}

SIMPLE_TYPES = {
    "bool": "BOOLEAN",
    "boolean": "BOOLEAN",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INT",
    "int64": "BIGINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINT",
    "uint64": "UBIGINT",
    "float16": "FLOAT",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "utf8": "VARCHAR",
    "string": "VARCHAR",
    "large_utf8": "VARCHAR",
    "utf8_view": "VARCHAR",
    "binary": "VARBINARY",
    "large_binary": "VARBINARY",
    "binary_view": "VARBINARY",
    "date32": "DATE",
    "date64": "DATE",
}


# --- contracts ------------------------------------------------------------------------


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (outside quotes)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner.replace('\\"', '"')
    return text


def _split_top(text: str, sep: str) -> list[str]:
    """Splits on `sep` outside quotes and brackets."""
    parts, depth, quote, start = [], 0, None, 0
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _flow_mapping(text: str) -> dict[str, str]:
    body = text.strip()[1:-1]
    out = {}
    for part in _split_top(body, ","):
        if part.strip():
            key, _, value = part.partition(":")
            out[key.strip()] = _scalar(value)
    return out


def read_contract(text: str) -> tuple[str | None, list[dict[str, str]]]:
    """`table` and `columns` (each a dict with at least `name` and `type`) of a contract."""
    lines = [_strip_comment(line).rstrip() for line in text.splitlines()]
    table, columns, in_columns, current = None, [], False, None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if indent == 0:
            in_columns = False
            key, _, value = body.partition(":")
            if key == "table":
                table = _scalar(value)
            elif key == "columns":
                in_columns = True
            continue
        if not in_columns:
            continue
        if body.startswith("- "):
            body = body[2:].strip()
            current = {}
            columns.append(current)
            if body.startswith("{"):
                current.update(_flow_mapping(body))
                continue
            indent += 2
        if current is None or ":" not in body:
            continue
        key, _, value = body.partition(":")
        value = value.strip()
        if value in (">", ">-", "|", "|-"):
            block = []
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                block.append(lines[i].strip())
                i += 1
            value = (" " if value.startswith(">") else "\n").join(b for b in block if b)
        current[key.strip()] = _scalar(value)
    return table, columns


def sql_type(rulec_type: str) -> str:
    """A rulec contract type as a SQL type SQLGlot reads."""
    t = rulec_type.strip()
    lower = t.lower()
    if lower in SIMPLE_TYPES:
        return SIMPLE_TYPES[lower]
    m = re.fullmatch(r"decimal\s*\(\s*(\d+)\s*,\s*(-?\d+)\s*\)", lower)
    if m:
        return f"DECIMAL({m.group(1)}, {m.group(2)})"
    m = re.fullmatch(r"timestamp\s*\(\s*(\w+)\s*(?:,\s*(.+))?\)", t, re.IGNORECASE)
    if m:
        return "TIMESTAMPTZ" if m.group(2) else "TIMESTAMP"
    for prefix, name in (("list<", "ARRAY"), ("large_list<", "ARRAY")):
        if lower.startswith(prefix) and lower.endswith(">"):
            return f"{name}<{sql_type(t[len(prefix) : -1])}>"
    if lower.startswith("struct<") and lower.endswith(">"):
        fields = []
        for field in _split_top(t[len("struct<") : -1], ","):
            name, _, ty = field.partition(":")
            fields.append(f"{name.strip()} {sql_type(ty)}")
        return f"STRUCT<{', '.join(fields)}>"
    if lower.startswith("map<") and lower.endswith(">"):
        key, value = _split_top(t[len("map<") : -1], ",")
        return f"MAP<{sql_type(key)}, {sql_type(value)}>"
    return "UNKNOWN"


def pack_schema(pack: str) -> dict[str, dict[str, str]]:
    schema = {}
    contracts = os.path.join(pack, "contracts")
    if os.path.isdir(contracts):
        for name in sorted(os.listdir(contracts)):
            if not name.endswith((".yaml", ".yml")):
                continue
            with open(os.path.join(contracts, name), encoding="utf-8-sig") as f:
                table, columns = read_contract(f.read())
            if table:
                schema[table] = {
                    c["name"]: sql_type(c.get("type", "")) for c in columns if "name" in c
                }
    return schema


def pack_rules(pack: str) -> list[tuple[str, str]]:
    """(name, text) of every rule: `.sql` files below the pack, as rulec reads them."""
    rules = []
    for dirpath, dirnames, filenames in os.walk(pack):
        top = os.path.samefile(dirpath, pack)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and not (top and d in SKIPPED_DIRS)
        )
        for name in sorted(filenames):
            if name.endswith(".sql") and not name.startswith("."):
                with open(os.path.join(dirpath, name), encoding="utf-8-sig") as f:
                    rules.append((name[: -len(".sql")], f.read()))
    rules.sort()
    return rules


# --- timing ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pack", help="a rule pack directory (holding pack.yaml)")
    parser.add_argument("--runs", type=int, default=10, help="timed passes (default 10)")
    parser.add_argument(
        "--dialect",
        default=None,
        help="SQLGlot dialect to read and optimize with (default: SQLGlot's own)",
    )
    args = parser.parse_args()

    import sqlglot
    from sqlglot.optimizer import optimize
    from sqlglot.schema import MappingSchema

    # The optional mypyc build (`pip install sqlglot[c]`, the `sqlglotc` distribution)
    # overlays compiled modules onto sqlglot's own; SQLGlot detects it the same way.
    from sqlglot import tokenizer_core

    compiled = not getattr(tokenizer_core, "__file__", "py").endswith(".py")

    dialect = args.dialect
    # Built once, as rulec reads the contracts once per pack.
    schema = MappingSchema(pack_schema(args.pack), dialect=dialect)
    rules = pack_rules(args.pack)

    def one(sql: str) -> None:
        optimize(sqlglot.parse_one(sql, read=dialect), schema=schema, dialect=dialect)

    ok, failed = [], []
    for name, sql in rules:  # Untimed warm-up pass; finds the failures.
        try:
            one(sql)
            ok.append((name, sql))
        except Exception as err:  # noqa: BLE001  (any failure is a finding, not a crash)
            # SQLGlot underlines the offending token with terminal escapes.
            message = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(err)).split())
            failed.append({"name": name, "error": f"{type(err).__name__}: {message[:300]}"})

    times: dict[str, list[float]] = {name: [] for name, _ in ok}
    for _ in range(max(args.runs, 1)):
        for name, sql in ok:
            started = time.perf_counter()
            one(sql)
            times[name].append((time.perf_counter() - started) * 1000.0)

    queries = [
        {
            "name": name,
            "median_ms": round(statistics.median(t), 3),
            "min_ms": round(min(t), 3),
            "max_ms": round(max(t), 3),
        }
        for name, t in times.items()
    ]
    medians = [q["median_ms"] for q in queries]
    report = {
        "pack": os.path.basename(os.path.normpath(args.pack)),
        "sqlglot": sqlglot.__version__,
        "compiled": compiled,
        "python": platform.python_version(),
        "dialect": dialect,
        "runs": max(args.runs, 1),
        "tables": len(schema.mapping),
        "queries": queries,
        "failed": failed,
        "median_ms": round(statistics.median(medians), 3) if medians else None,
        "total_ms": round(sum(medians), 3),
    }
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
