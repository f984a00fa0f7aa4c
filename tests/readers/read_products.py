"""The readers lane (`cargo xtask readers`): products read as datasets by readers as they are.

Reads the products of the pack `cargo xtask readers` built, with pyarrow's dataset API (which
skips `_` and `.` names) and DuckDB's `read_parquet` over a glob, and checks the rows against
the manifest. Prints one line per check; exits non-zero on the first failure.
"""

import json
import pathlib
import sys

import duckdb
import pyarrow.dataset as ds

out = pathlib.Path(sys.argv[1])


def manifest(product):
    return json.loads((out / product / "_rulec" / "manifest.json").read_text())


def check(what, got, expected):
    if got != expected:
        print(f"FAIL {what}: {got!r}, expected {expected!r}")
        sys.exit(1)
    print(f"ok   {what}: {got!r}")


# A flat product: pyarrow reads the directory (its `_rulec/` metadata skipped) and DuckDB
# globs its data files.
flat = manifest("events_by_kind")
dataset = ds.dataset(out / "events_by_kind", format="parquet")
check("pyarrow dataset rows (flat)", dataset.count_rows(), flat["rows"])
check(
    "pyarrow dataset columns (flat)",
    dataset.schema.names,
    [c["name"] for c in flat["schema"]],
)
glob = str(out / "events_by_kind" / "*.parquet")
check(
    "duckdb read_parquet glob rows (flat)",
    duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0],
    flat["rows"],
)

# A partitioned product: Hive partitioning gives the partition column back.
parted = manifest("events_partitioned")
dataset = ds.dataset(out / "events_partitioned", format="parquet", partitioning="hive")
check("pyarrow hive dataset rows", dataset.count_rows(), parted["rows"])
kinds = sorted(set(dataset.to_table(columns=["kind"]).column("kind").to_pylist()))
check("pyarrow hive partition values", kinds, ["attr", "call", "def", "name"])
glob = str(out / "events_partitioned" / "*" / "*.parquet")
rows = duckdb.sql(
    f"SELECT kind, count(*) FROM read_parquet('{glob}', hive_partitioning = true) "
    "GROUP BY kind ORDER BY kind"
).fetchall()
check(
    "duckdb hive glob rows per kind",
    rows,
    [(k, parted["rows"] // 4) for k in ["attr", "call", "def", "name"]],
)

# The appended product: earlier parts and the new one, one dataset.
appended = manifest("events_appended")
dataset = ds.dataset(out / "events_appended", format="parquet")
check("pyarrow dataset rows (appended)", dataset.count_rows(), appended["rows"])
check("appended parts", len(appended["files"]), 2)
