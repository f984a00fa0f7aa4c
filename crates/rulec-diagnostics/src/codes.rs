//! The one registry of diagnostic codes.
//!
//! A code is an area letter, three digits and a kebab-case slug that names the problem:
//! S syntax, C contract, P pack and rule graph, Q qualification and types, E emission
//! (Substrait), R run. Codes are never reused: retire a code by leaving it in [`ALL`] with
//! its explanation saying so.

use std::fmt;

/// A diagnostic code and its documentation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code {
    pub code: &'static str,
    pub slug: &'static str,
    /// One line: what the problem is.
    pub summary: &'static str,
    /// Why it matters and how to fix it.
    pub explanation: &'static str,
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Code {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code.cmp(other.code)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.slug)
    }
}

/// A code is written as its code (`Q001`) and read back through the registry.
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        lookup(&code).ok_or_else(|| serde::de::Error::custom(format!("unknown code `{code}`")))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

macro_rules! codes {
    ($($name:ident = $code:literal $slug:literal, $summary:literal, $explanation:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $name: Code = Code {
                code: $code,
                slug: $slug,
                summary: $summary,
                explanation: $explanation,
            };
        )*
        /// Every code, in registry order.
        pub const ALL: &[Code] = &[$($name),*];
    };
}

codes! {
    PARSE_ERROR = "S001" "parse-error",
        "The rule text is not valid SQL.",
        "The SQL parser could not read the rule. The diagnostic points at the token where parsing stopped.";
    FORBIDDEN_STATEMENT = "S002" "forbidden-statement",
        "The rule holds a statement that is not a query.",
        "A rule defines one product with one query: SELECT, WITH ... SELECT, VALUES or a set operation. DDL, DML, COPY, SET, EXPLAIN, PREPARE and other statements are rejected so that a rule can only read its inputs.";
    MULTIPLE_STATEMENTS = "S003" "multiple-statements",
        "The rule file holds more than one statement.",
        "A rule file holds exactly one query. Split the statements into separate rule files, one product each.";
    EMPTY_RULE = "S004" "empty-rule",
        "The rule file holds no statement.",
        "A rule file must hold one query. Write the query or delete the file.";
    FILE_PATH_READ = "S005" "file-path-read",
        "The rule reads a file by path.",
        "Rules may read only contract tables and other rules' products, by name. Declare the data as an input in pack.yaml with a contract and refer to it by its table name.";
    INVALID_ENCODING = "S006" "invalid-encoding",
        "The rule file is not valid UTF-8.",
        "Rule files must be UTF-8 text. Re-save the file as UTF-8.";
    NESTING_TOO_DEEP = "S007" "nesting-too-deep",
        "The rule nests expressions or subqueries too deeply.",
        "rulec reads rules up to a fixed depth: 256 levels of nested expressions (each operator of a chain like `a AND b AND c` is one level) and as many parentheses and subqueries as the parser's recursion limit allows. Deeper rules are refused rather than risk exhausting the stack. Flatten the rule: use IN lists instead of long OR chains, and CTEs instead of deeply nested subqueries.";
    DIALECT_CONSTRUCT_REFUSED = "S008" "dialect-construct-refused",
        "The rule uses a construct of its dialect whose meaning rulec cannot keep.",
        "A pack's `dialect:` reads rules as that engine means them. Where the engine means something DataFusion's plan cannot say the same way (Spark's 0-based `arr[i]`), rulec refuses the construct rather than change its meaning; the message names the construct, the dialect and the spelling that works.";
    MALFORMED_CONTRACT = "C001" "malformed-contract",
        "The contract file is not a valid contract.",
        "A contract is a YAML mapping with `table` (a non-empty name), `columns` (a list of {name, type, nullable}) and optional `metadata` and `order_by`.";
    UNKNOWN_TYPE = "C002" "unknown-type",
        "A contract column has a type rulec does not know or cannot read.",
        "Types: bool, int8..int64, uint8..uint64, float32, float64, decimal(p,s), utf8, large_utf8, utf8_view, binary, date32, date64, timestamp(unit[, tz]), list<T>, large_list<T>, struct<name: T, ...>, map<K, V>. Types containing `,` or `:` must be quoted in YAML flow maps.";
    DUPLICATE_COLUMN = "C003" "duplicate-column",
        "A contract declares the same column twice.",
        "Column names in a contract must be unique. Remove or rename one of them.";
    DUPLICATE_CONTRACT = "C004" "duplicate-contract",
        "Two contracts declare the same table.",
        "Each table has exactly one contract. Merge or rename them.";
    MALFORMED_PACK = "P001" "malformed-pack",
        "pack.yaml is missing or not valid.",
        "pack.yaml is a YAML mapping with `name`, optional `dialect`, `inputs` (table -> path) and `options`.";
    RULE_CYCLE = "P002" "rule-cycle",
        "Rules refer to each other in a cycle.",
        "Rule references must form a DAG: a product cannot depend on itself, directly or through other rules. The message names every rule in the cycle.";
    DUPLICATE_RULE = "P003" "duplicate-rule",
        "Two rule files have the same name.",
        "A rule's name is its file stem and must be unique in the pack, across directories.";
    RULE_SHADOWS_INPUT = "P004" "rule-shadows-input",
        "A rule has the name of an input table.",
        "Rule names and contract table names share one namespace. Rename the rule.";
    INPUT_WITHOUT_CONTRACT = "P005" "input-without-contract",
        "pack.yaml names an input that has no contract.",
        "Every input in pack.yaml needs a contract in contracts/ declaring its schema.";
    UPSTREAM_FAILED = "P006" "upstream-failed",
        "The rule was not checked because a rule it reads failed.",
        "Fix the upstream rule first; this rule is checked once its inputs plan.";
    PLAN_ERROR = "Q000" "plan-error",
        "DataFusion could not plan the rule.",
        "The engine rejected the rule while resolving names and types. The message is the engine's.";
    UNKNOWN_COLUMN = "Q001" "unknown-column",
        "The rule refers to a column that is not in scope.",
        "Check the spelling against the contract or upstream rule, and the table qualifier.";
    UNKNOWN_TABLE = "Q002" "unknown-table",
        "The rule reads a table that is neither a contract nor a rule.",
        "Rules read contract tables (contracts/*.yaml) and other rules (by file stem).";
    AMBIGUOUS_COLUMN = "Q003" "ambiguous-column",
        "A column name matches columns of more than one table.",
        "Qualify the column with its table name or alias.";
    UNKNOWN_FUNCTION = "Q004" "unknown-function",
        "The rule calls a function the engine does not have.",
        "Check the spelling; rulec uses DataFusion's built-in functions.";
    TYPE_MISMATCH = "Q005" "type-mismatch",
        "Operand or argument types do not fit.",
        "Cast one side explicitly (CAST(x AS type) or arrow_cast(x, 'Type')).";
    UNSUPPORTED_SQL = "Q006" "unsupported-sql",
        "The rule uses SQL the engine does not support.",
        "Rewrite the construct; see the message for the engine's reason.";
    NON_AGGREGATED_COLUMN = "Q007" "non-aggregated-column",
        "A column is selected outside an aggregate without being in GROUP BY.",
        "In an aggregating query every selected column must be in GROUP BY or inside an aggregate function (count, max, array_agg, ...).";
    DUPLICATE_OUTPUT_COLUMN = "Q008" "duplicate-output-column",
        "Two output columns of the rule have the same name.",
        "A product's column names must be unique. Rename one with AS.";
    UNION_COLUMN_COUNT = "Q009" "union-column-count",
        "The branches of a UNION have different numbers of columns.",
        "Every branch of a UNION, INTERSECT or EXCEPT must select the same number of columns, in the same order.";
    INTERNAL_ERROR = "Q900" "internal-error",
        "rulec failed while compiling the rule.",
        "This is a bug in rulec or the engine, not in the rule. Please report it with the rule text.";
    UNENCODABLE_PLAN = "E001" "unencodable-plan",
        "The rule's plan cannot be encoded as Substrait faithfully.",
        "Substrait is the artifact that runs; rulec refuses to emit a plan that would mean something different. Rewrite the construct named in the message.";
    INPUT_MISSING = "R001" "input-missing",
        "An input's data file or directory does not exist.",
        "Check the path in pack.yaml `inputs`, or pass --data to point at another data directory.";
    INPUT_SCHEMA_MISMATCH = "R002" "input-schema-mismatch",
        "An input's data does not match its contract.",
        "The data file's schema must have every contract column with the declared type.";
    EXECUTION_FAILED = "R003" "execution-failed",
        "The engine failed while computing a product.",
        "The message is the engine's. Earlier products are kept.";
    WRITE_FAILED = "R004" "write-failed",
        "A product could not be written.",
        "Check the output directory's permissions and free space. The previous product, if any, is kept.";
    PRODUCT_SKIPPED = "R005" "product-skipped",
        "A product was not built because a product it reads failed.",
        "Fix the upstream failure first.";
    OUTPUT_LOCKED = "R006" "output-locked",
        "Another rulec run holds the output directory.",
        "Two runs on one output directory would overwrite each other's products. Wait for the other run (rulec run waits unless --no-wait), or write elsewhere with --out.";
    INVALID_RUN_SETTING = "R007" "invalid-run-setting",
        "A runtime profile, setting, product order or product slicing is invalid.",
        "Profiles are fast, safe and memory-limited; settings are DataFusion configuration keys (datafusion.execution.target_partitions=4); order_by names top-level columns of primitive type, optionally followed by desc; slice_by names an integer column that every operator of the query keeps apart (grouping key, equi-join key on the kept side), with 2 to 4096 slices, and no order; partition_by names columns of integer, string, boolean or date type, not all of them; max_rows_per_file is at least 1, row_group_bytes at least 64KiB, compression zstd, zstd(1..22), snappy or none; materialize is table or ephemeral (a view declares nothing a written product has); incremental is full or append, and append needs a query whose rows come one by one from an input, no order, slices, contract key or tolerance.";
    INPUT_UNREADABLE = "R008" "input-unreadable",
        "An input's data cannot be read as Parquet.",
        "The file (or a file of the directory) is empty, truncated, corrupt, not Parquet, or cannot be opened. The diagnostic names the file and the reader's error. Nothing is built from it, and products built before stay as they were.";
    INPUT_LAYOUT = "R009" "input-layout",
        "An input's directory does not have the Hive layout its contract's partition columns declare.",
        "A contract column declared `partition: true` is read from directory names: every data file must be under `col=value/` directories, one per partition column in the contract's order, each value of the column's type, and the files themselves must not hold the column. Move the stray file, or fix the contract.";
    INPUT_ORDER_UNRECORDED = "R010" "input-order-unrecorded",
        "An input's contract declares an order that its files do not record.",
        "A contract's `order_by` lets the engine skip sorting the input, but only where each file's Parquet metadata says so (`sorting_columns`, as writers that sort record it). Files that do not say so are read as unordered: nothing is wrong with the rows, but the declared order goes unused. Write the files with sorting_columns, or remove `order_by`.";
    ENGINE_UNAVAILABLE = "R011" "engine-unavailable",
        "The engine the run names cannot be used.",
        "`--engine ballista` runs products on a Ballista cluster: it needs rulec built with the `ballista` feature (`cargo build --release -p rulec --features ballista`) and a scheduler, `--scheduler df://HOST:PORT` (a running `rulec cluster scheduler` with `rulec cluster executor`s that see the same files), or `--scheduler standalone` (an in-process scheduler and executors, for trying it out and tests).";
    STORAGE_UNAVAILABLE = "R012" "storage-unavailable",
        "An input or the output is on object storage rulec cannot use.",
        "Inputs (pack.yaml `inputs:`) and the output (`--out`, pack.yaml `output:`) may be `s3://BUCKET/KEY` URLs: that needs rulec built with the `s3` feature (`cargo build --release -p rulec --features s3`) and the store's settings in the environment as the AWS SDKs read them (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, or an instance or web identity; `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for an S3-compatible server). Other URL schemes are not read or written.";
    REPLAY_PLAN_REFUSED = "R013" "replay-plan-refused",
        "`rulec replay` refused a product's stored plan.",
        "The plan file must be the one the product's manifest names, byte for byte (its size and SHA-256), and may read only the pack's declared inputs and products, by name. A plan file changed after the build, or copied from elsewhere, is not run.";
    REPLAY_UNAVAILABLE = "R014" "replay-unavailable",
        "A product cannot be replayed as it was built.",
        "`rulec replay` re-runs a product's stored plan against what it was built from: the product's build id must still be the pack's (same rule, inputs, settings and rulec), and the products it reads must be current. Run `rulec run` first, or pass the --pack, --data and --profile the product was built with.";
    REPLAY_MISMATCH = "R015" "replay-mismatch",
        "A replayed plan did not give what the product holds.",
        "The stored plan, run again on the same inputs, gave other rows than the manifest records (or, for a sorted product, other files). The product or its inputs were changed outside rulec, or the engine is not deterministic for this plan: rebuild with `rulec run --force` and report it if it persists.";
    OUTPUT_COLUMN_MISSING = "O001" "output-column-missing",
        "The rule does not produce a column its output contract declares.",
        "The output contract (contracts/<rule>.yaml) pins the product's schema. Add the column to the rule's select list, or remove it from the contract.";
    OUTPUT_COLUMN_UNEXPECTED = "O002" "output-column-unexpected",
        "The rule produces a column its output contract does not declare.",
        "Remove the column from the rule, or declare it in the output contract.";
    OUTPUT_COLUMN_TYPE = "O003" "output-column-type",
        "An output column's type differs from its output contract.",
        "Cast the column to the declared type (CAST(x AS type) or arrow_cast), or change the contract.";
    OUTPUT_COLUMN_NULLABILITY = "O004" "output-column-nullability",
        "An output column may be null but its output contract says it is not.",
        "Filter out or replace the nulls (COALESCE, WHERE x IS NOT NULL), or declare the column nullable.";
    OUTPUT_KEY_DUPLICATE = "O005" "output-key-duplicate",
        "Two rows of a product have the same key, which its output contract declares unique.",
        "The output contract's `key:` columns must identify each row. Fix the rule (a missing join condition or GROUP BY is the usual cause), or write violating rows to the product's error file with `on_violation: tolerant` (pack.yaml `products:`) or `rulec run --tolerant`.";
    NULL_COMPARISON = "S101" "null-comparison",
        "A comparison with NULL using `=` or `<>`, which is never true.",
        "`x = NULL` is NULL for every x, so a filter on it keeps no rows. Use `x IS NULL` or `x IS NOT NULL`. A lint: configure it under `lints:` in pack.yaml.";
    UNUSED_CTE = "S102" "unused-cte",
        "A CTE is defined but never read.",
        "Remove the CTE or read it. A lint: configure it under `lints:` in pack.yaml.";
    ORDER_WITHOUT_LIMIT = "S103" "order-without-limit",
        "A rule that other rules read orders its rows without a LIMIT.",
        "Row order is not preserved when another rule reads a product, so the sort is wasted work. Order in the final rule, or add a LIMIT if the order selects rows. A lint: configure it under `lints:` in pack.yaml.";
    STAR_WITH_OUTPUT_CONTRACT = "O101" "star-with-output-contract",
        "A rule with an output contract selects `*`.",
        "With `*`, an upstream change adds or removes product columns silently; the output contract then fails far from the cause. List the columns. A lint: configure it under `lints:` in pack.yaml.";
    UNUSED_INPUT = "P101" "unused-input",
        "An input contract that no rule reads.",
        "Remove the contract and its pack.yaml input, or read the table. A lint: configure it under `lints:` in pack.yaml.";
    VOLATILE_FUNCTION = "Q101" "volatile-function",
        "A rule calls a function whose value changes from run to run (`now()`, `random()`, `uuid()`, …).",
        "The rule's product is different every time it is built, so `rulec run` never reuses it (nor the products that read it): each run rebuilds them, `rebuilt (volatile)`. Compute the value in the data instead, or allow the lint when a fresh value on every run is what you want. A lint: configure it under `lints:` in pack.yaml.";
    INVALID_LINT_CONFIG = "P007" "invalid-lint-config",
        "pack.yaml configures a lint that does not exist, or with an unknown level.",
        "`lints:` maps a lint code or name (S101 or null-comparison) to allow, warn or deny. Only lints (warnings) can be configured.";
    INVALID_DIALECT_POLICY = "P008" "invalid-dialect-policy",
        "A dialect policy (`dialects/<name>.yaml`) is invalid.",
        "A policy names its sqlparser dialect (`parser:`), the unparser dialect that prints canonical SQL (`unparser:` datafusion, duckdb, postgres, spark or trino), how unquoted identifiers fold (`identifiers: lower`, the one folding DataFusion plans with) and the read rewrites it applies (`read_rewrites:`, known names only); its `name` is its file's stem.";
}

/// The codes that are lints: warnings by default, configurable per pack as
/// `allow`, `warn` or `deny` under `lints:` in pack.yaml.
pub const LINTS: &[Code] = &[
    NULL_COMPARISON,
    UNUSED_CTE,
    ORDER_WITHOUT_LIMIT,
    STAR_WITH_OUTPUT_CONTRACT,
    UNUSED_INPUT,
    VOLATILE_FUNCTION,
];

impl Code {
    /// True for lints (configurable warnings).
    pub fn is_lint(&self) -> bool {
        LINTS.contains(self)
    }

    /// The severity findings with this code have unless pack.yaml configures a lint:
    /// warnings for lints and for rules skipped because an upstream rule failed (the
    /// upstream's error is the one to fix), errors otherwise.
    pub fn default_severity(&self) -> crate::Severity {
        if self.is_lint() || *self == UPSTREAM_FAILED {
            crate::Severity::Warning
        } else {
            crate::Severity::Error
        }
    }
}

/// Looks a code up by its code (`Q001`) or slug (`unknown-column`), case-insensitively.
pub fn lookup(name: &str) -> Option<Code> {
    ALL.iter()
        .copied()
        .find(|c| c.code.eq_ignore_ascii_case(name) || c.slug.eq_ignore_ascii_case(name))
}

/// The Markdown table of every code (the README's "Diagnostic codes" section is generated
/// from it by `cargo xtask codegen`).
pub fn markdown_table() -> String {
    let mut out = String::from("| code | name | what it means |\n| --- | --- | --- |\n");
    for code in ALL {
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            code.code, code.slug, code.summary
        ));
    }
    out
}
