//! Runs the `protoc` binary that the `protoc-bin-vendored` crate ships, with the arguments
//! this program was given. `tools/protoc/protoc` builds and calls it when a build script
//! (substrait's, through prost-build) needs `protoc` and the machine has none.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let protoc = match protoc_bin_vendored::protoc_bin_path() {
        Ok(path) => path,
        Err(err) => {
            eprintln!("rulec-protoc: no vendored protoc for this platform: {err}");
            eprintln!("rulec-protoc: install protoc and set PROTOC=/path/to/protoc");
            return ExitCode::from(2);
        }
    };
    match Command::new(&protoc).args(std::env::args_os().skip(1)).status() {
        Ok(status) => ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)),
        Err(err) => {
            eprintln!("rulec-protoc: cannot run {}: {err}", protoc.display());
            ExitCode::from(2)
        }
    }
}
