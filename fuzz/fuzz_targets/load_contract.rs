//! Arbitrary bytes as a contract file, `contracts/fuzz.yaml`: decoded as pack files are
//! (`PackFiles::text`: BOM, UTF-8, `S006`), loaded by `parse_contract`, and every finding
//! rendered with the file as source. A contract that loads must have a schema whose types
//! render in the contract grammar and parse back to the same types, and a schema
//! fingerprint.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rulec_fuzz::targets::load_contract(data));
