//! `rulec lsp`: a language server for rule packs.
//!
//! Every pack under the workspace folders (a directory with `pack.yaml`) is loaded into a
//! [`rulec_driver::Project`]; open documents' unsaved text is laid over the files on disk.
//! After an edit the pack is checked again incrementally (only rules whose inputs changed
//! are planned) and its diagnostics, the same as `rulec check` prints, are published file
//! by file. Hover, go to definition, references, completion, quick fixes and document
//! symbols read the last check: contract types down to nested fields, and lineage.
//!
//! The server never stops on bad input: a malformed message is answered or logged, an
//! unknown method is answered with `MethodNotFound`, a panic in a handler (or in the planner,
//! which the driver reports as a `Q900` finding) is logged and answered with an error.

mod analysis;
mod completion;
mod position;
mod server;
mod transport;

pub use position::{path_to_uri, uri_to_path};
pub use server::{capabilities, serve};
pub use transport::read_messages;

/// Runs the server over stdin and stdout until the client exits.
pub fn run_stdio() -> Result<(), String> {
    let (connection, writer) = transport::stdio();
    // Parsing and planning recurse over a query's depth: the loop gets a planning-sized stack.
    let served = std::thread::Builder::new()
        .name("rulec-lsp".to_owned())
        .stack_size(rulec_compile::PLANNING_STACK)
        .spawn(move || {
            let result = serve(&connection);
            drop(connection);
            result
        })
        .map_err(|e| format!("cannot start the server thread: {e}"))?
        .join()
        .unwrap_or_else(|_| Err("the server panicked".to_owned()));
    let _ = writer.join();
    served
}
