#!/usr/bin/env bash
# Writes the seed corpus of the `consume_substrait` target: the binary Substrait plan of every
# rule of the CPG and TPC-H packs (`rulec plan PACK RULE --format binary -o FILE`), one file
# per rule, into
# fuzz/seeds/consume_substrait/. Run it from anywhere after the packs or the producer change:
#
#   fuzz/gen_substrait_seeds.sh                 # builds and runs `cargo run -p rulec`
#   RULEC=/path/to/rulec fuzz/gen_substrait_seeds.sh   # uses a rulec binary you already have
#
# Rules that read other rules' products encode fine; consuming them then fails on the
# upstream table (only the contract inputs are registered in the fuzz session), which is a
# path worth fuzzing too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/fuzz/seeds/consume_substrait"
mkdir -p "$out"
if [[ -n "${RULEC:-}" ]]; then
  rulec=("$RULEC")
else
  rulec=(cargo run --quiet --manifest-path "$root/Cargo.toml" -p rulec --)
fi
for pack in rules/cpg rules/tpch; do
  for sql in "$root/$pack"/*.sql; do
    rule="$(basename "$sql" .sql)"
    file="$out/$(basename "$pack")__$rule.substrait"
    if ! "${rulec[@]}" plan "$root/$pack" "$rule" --format binary -o "$file" >/dev/null; then
      echo "skipped $pack/$rule (does not encode)" >&2
      rm -f "$file"
    fi
  done
done
echo "wrote $(ls "$out"/*.substrait | wc -l) plans to $out" >&2
