"""The DuckDB lane (`cargo xtask duckdb`): each rule's canonical SQL printed for DuckDB
(`rulec plan --dialect duckdb`) runs in DuckDB over the same inputs and upstream products,
and gives the rows of rulec's product, compared as multisets.

Usage: cross_check.py PACK OUT PLAN_JSON RESULT_JSON
"""

import decimal
import json
import math
import pathlib
import sys

import duckdb

pack = pathlib.Path(sys.argv[1])
out = pathlib.Path(sys.argv[2])
plans = json.loads(pathlib.Path(sys.argv[3]).read_text())
result_path = pathlib.Path(sys.argv[4])


def normalize(value):
    """A value as a comparable, hashable Python object (floats to 9 significant digits)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return tuple(sorted((str(k), normalize(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(normalize(v) for v in value)
    if hasattr(value, "as_tuple"):  # Decimal
        return float(f"{float(value):.9g}")
    return value


def product_files(name):
    manifest = json.loads((out / name / "_rulec" / "manifest.json").read_text())
    return [str(out / name / f["name"]) for f in manifest["files"]], manifest


def rows(relation, like=None):
    """The rows of `relation`, sorted. With `like` (the product's relation): a DOUBLE where
    the product has a DECIMAL(p, s) is truncated to s digits, as DataFusion computes such
    values (an average of decimals is a DECIMAL(19, 6) there, a DOUBLE in DuckDB)."""
    scales = {}
    if like is not None:
        for i, (mine, theirs) in enumerate(zip(relation.types, like.types)):
            text = str(theirs)
            if str(mine) in ("DOUBLE", "FLOAT") and text.startswith("DECIMAL("):
                scales[i] = int(text.rstrip(")").split(",")[1])

    def fix(i, v):
        if i in scales and isinstance(v, float) and math.isfinite(v):
            step = decimal.Decimal(1).scaleb(-scales[i])
            v = decimal.Decimal(repr(v)).quantize(step, rounding=decimal.ROUND_DOWN)
        return normalize(v)

    return sorted(
        (tuple(fix(i, v) for i, v in enumerate(row)) for row in relation.fetchall()), key=repr
    )


inputs = {}
manifest_text = (pack / "pack.yaml").read_text().splitlines()
in_inputs = False
for line in manifest_text:
    if line.startswith("inputs:"):
        in_inputs = True
        continue
    if in_inputs:
        if not line.startswith("  ") or ":" not in line:
            in_inputs = False
            continue
        table, path = line.strip().split(":", 1)
        inputs[table.strip()] = pack / path.strip()

con = duckdb.connect()
for table, path in inputs.items():
    source = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
    con.execute(f"CREATE VIEW \"{table}\" AS SELECT * FROM read_parquet('{source}')")
for rule in plans["rules"]:
    name = rule["name"]
    if (out / name / "_rulec" / "manifest.json").exists():
        files, _ = product_files(name)
        listed = ", ".join(f"'{f}'" for f in files)
        con.execute(f"CREATE OR REPLACE VIEW \"{name}\" AS SELECT * FROM read_parquet([{listed}])")

results = []
for rule in plans["rules"]:
    name = rule["name"]
    sql = rule.get("canonical_sql")
    if not sql:
        results.append({"rule": name, "outcome": "not printed", "why": rule.get("canonical_sql_error")})
        continue
    files, manifest = product_files(name)
    listed = ", ".join(f"'{f}'" for f in files)
    product = con.sql(f"SELECT * FROM read_parquet([{listed}])")
    try:
        got = rows(con.sql(sql), like=product)
    except Exception as e:  # DuckDB's own error, reported per rule
        results.append({"rule": name, "outcome": "duckdb error", "why": str(e).splitlines()[0]})
        continue
    expected = rows(product)
    if got == expected:
        results.append({"rule": name, "outcome": "equal", "rows": len(got)})
    else:
        results.append({
            "rule": name,
            "outcome": "different rows",
            "why": f"{len(got)} rows from DuckDB, {len(expected)} in the product",
        })
result_path.write_text(json.dumps(results, indent=2))
for r in results:
    print(f"{r['outcome']:>15}  {r['rule']}  {r.get('why') or r.get('rows', '')}")
