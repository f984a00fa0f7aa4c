#!/usr/bin/env bash
# Fills the (git-ignored) corpora of the text targets from the repository itself, so the
# seeds are the current rules, contracts and manifests rather than copies of them:
#   check_rule          every .sql file of rules/cpg, rules/tpch, tests/fixtures, tests/packs
#   load_contract       every contract YAML under rules/ and tests/
#   load_pack_manifest  every pack.yaml the repository tracks
# Run it from anywhere before fuzzing (it only adds files; names are paths with / as __).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
name() { echo "$1" | sed 's|^rules/||; s|^tests/|tests_|; s|/|__|g'; }
mkdir -p fuzz/corpus/check_rule fuzz/corpus/load_contract fuzz/corpus/load_pack_manifest
find rules/cpg rules/tpch tests/fixtures tests/packs -name '*.sql' -not -path '*/out/*' |
  while read -r f; do cp "$f" "fuzz/corpus/check_rule/$(name "$f")"; done
find rules tests -path '*/contracts/*' \( -name '*.yaml' -o -name '*.yml' \) |
  while read -r f; do cp "$f" "fuzz/corpus/load_contract/$(name "$f")"; done
git ls-files '*pack.yaml' |
  while read -r f; do cp "$f" "fuzz/corpus/load_pack_manifest/$(name "$f")"; done
