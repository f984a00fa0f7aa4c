"""The DuckDB lane's parse check for engines it cannot run (`cargo xtask duckdb`): the
canonical SQL printed for PostgreSQL, Spark and Trino (`rulec plan --dialect X --format
json`) must parse with SQLGlot's parser for that engine, a parser independent of the
sqlparser that rulec's own reader uses.

Usage: sqlglot_parse.py DIALECT PLAN_JSON...
"""

import json
import pathlib
import sys

import sqlglot
from sqlglot.errors import ErrorLevel

dialect = sys.argv[1]
failures = 0
for path in sys.argv[2:]:
    for rule in json.loads(pathlib.Path(path).read_text())["rules"]:
        sql = rule.get("canonical_sql")
        if not sql:
            print(f"{'not printed':>15}  {rule['name']}  {rule.get('canonical_sql_error')}")
            failures += 1
            continue
        try:
            sqlglot.parse_one(sql, read=dialect, error_level=ErrorLevel.RAISE)
        except sqlglot.errors.SqlglotError as e:
            print(f"{'parse error':>15}  {rule['name']}  {str(e).splitlines()[0]}")
            failures += 1
            continue
        notes = rule.get("canonical_sql_unsupported") or []
        print(f"{'parses':>15}  {rule['name']}  {'; '.join(n.split(':')[0] + ' noted' for n in notes)}")
sys.exit(1 if failures else 0)
