//! The stdio transport: `Content-Length` framed JSON-RPC messages.
//!
//! Unlike `lsp_server::Connection::stdio`, whose reader stops at the first payload that is
//! not a JSON-RPC message, a malformed message here is answered (a parse or invalid-request
//! error, when it has an id: the server sends it) or logged, and reading goes on. Only the end of input or a
//! broken frame (a header that cannot be read) ends the connection.

use crossbeam_channel::{Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message, Request, RequestId};
use std::io::{BufRead, Write};

/// A connection over stdin and stdout, and the threads that move its messages.
pub fn stdio() -> (Connection, std::thread::JoinHandle<()>) {
    let (to_client, outgoing) = lsp_server_channel();
    let (incoming, from_client) = lsp_server_channel();
    let writer = std::thread::Builder::new()
        .name("rulec-lsp-writer".to_owned())
        .spawn(move || {
            let stdout = std::io::stdout();
            let mut stdout = stdout.lock();
            for message in outgoing {
                if message.write(&mut stdout).is_err() {
                    break;
                }
            }
        })
        .unwrap_or_else(|err| panic!("cannot start the writer thread: {err}"));
    std::thread::Builder::new()
        .name("rulec-lsp-reader".to_owned())
        .spawn(move || {
            let stdin = std::io::stdin();
            read_messages(&mut stdin.lock(), &incoming);
        })
        .unwrap_or_else(|err| panic!("cannot start the reader thread: {err}"));
    (
        Connection {
            sender: to_client,
            receiver: from_client,
        },
        writer,
    )
}

/// A channel of the kind `lsp_server::Connection` is made of.
fn lsp_server_channel() -> (Sender<Message>, Receiver<Message>) {
    crossbeam_channel::unbounded()
}

/// The method of the request the reader passes on for a malformed message with an id:
/// the server answers it with the error in its params (`code`, `message`).
pub const MALFORMED: &str = "$/rulec/malformed";

/// Reads framed messages until the input ends or a frame is broken, passing each message
/// on, and each malformed one with an id as a [`MALFORMED`] request.
pub fn read_messages(input: &mut dyn BufRead, incoming: &Sender<Message>) {
    loop {
        let body = match read_frame(input) {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(err) => {
                log(&format!("cannot read a message frame, stopping: {err}"));
                return;
            }
        };
        match serde_json::from_slice::<Message>(&body) {
            Ok(message) => {
                let exit = matches!(&message, Message::Notification(n) if n.method == "exit");
                if incoming.send(message).is_err() || exit {
                    return;
                }
            }
            Err(err) => {
                log(&format!("ignoring a malformed message: {err}"));
                // A JSON object with an id is a request the client waits on: answer it.
                let value: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
                let (code, id) = match &value {
                    None => (ErrorCode::ParseError, None),
                    Some(v) => (ErrorCode::InvalidRequest, request_id(v)),
                };
                if let Some(id) = id {
                    let request = Request::new(
                        id,
                        MALFORMED.to_owned(),
                        serde_json::json!({"code": code as i32, "message": format!("malformed message: {err}")}),
                    );
                    if incoming.send(Message::Request(request)).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn request_id(value: &serde_json::Value) -> Option<RequestId> {
    match value.get("id")? {
        serde_json::Value::Number(n) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(RequestId::from),
        serde_json::Value::String(s) => Some(RequestId::from(s.clone())),
        _ => None,
    }
}

/// One frame's body, `None` at the end of input.
fn read_frame(input: &mut dyn BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut length = None;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            if length.is_some() {
                break;
            }
            continue; // Blank lines between frames.
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse::<usize>().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("Content-Length: {e}"),
                )
            })?);
        }
    }
    let length = length.unwrap_or(0);
    if length > 256 << 20 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a message of {length} bytes"),
        ));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Logs to stderr (the client shows it in its server log).
pub fn log(message: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "rulec lsp: {message}");
}
