//! The test client: a language server on its own thread, driven over an in-memory
//! JSON-RPC connection, with the requests and waits the tests use.

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// A client connected to a server running on its own thread.
pub struct Client {
    pub connection: Connection,
    pub next_id: i32,
    /// Notifications received while waiting for something else.
    pub pending: Vec<Notification>,
    pub server: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Client {
    /// Starts a server with `root` as the workspace folder and initializes it.
    pub fn start(root: &Path) -> Client {
        let (client, server) = Connection::memory();
        let handle = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || rulec_lsp::serve(&server))
            .expect("spawn");
        let mut client = Client {
            connection: client,
            next_id: 0,
            pending: Vec::new(),
            server: Some(handle),
        };
        let root_uri = rulec_lsp::path_to_uri(root);
        let init = client.request(
            "initialize",
            json!({
                "capabilities": {},
                "workspaceFolders": [{"uri": root_uri.as_str(), "name": "root"}],
            }),
        );
        let capabilities = &init.response_result.expect("initialized")["capabilities"];
        assert_eq!(
            capabilities["textDocumentSync"],
            json!(2),
            "incremental sync"
        );
        client.notify("initialized", json!({}));
        client
    }

    pub fn request(&mut self, method: &str, params: Value) -> Response {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.connection
            .sender
            .send(Message::Request(Request::new(
                id.clone(),
                method.to_owned(),
                params,
            )))
            .expect("send");
        self.response(&id)
    }

    pub fn response(&mut self, id: &RequestId) -> Response {
        loop {
            match self.receive() {
                Message::Response(r) if r.id == *id => return r,
                Message::Response(r) => panic!("unexpected response {r:?}"),
                Message::Notification(n) => self.pending.push(n),
                Message::Request(r) => panic!("unexpected request {r:?}"),
            }
        }
    }

    pub fn receive(&self) -> Message {
        self.connection
            .receiver
            .recv_timeout(Duration::from_secs(120))
            .expect("a message from the server")
    }

    pub fn notify(&self, method: &str, params: Value) {
        self.connection
            .sender
            .send(Message::Notification(Notification::new(
                method.to_owned(),
                params,
            )))
            .expect("send");
    }

    /// Waits until the server has handled everything sent so far (a request is answered
    /// after every pending check), then returns the diagnostics last published per file.
    pub fn published(&mut self) -> std::collections::BTreeMap<String, Vec<Value>> {
        let _ = self.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": "file:///nowhere.sql"}}),
        );
        let mut last = std::collections::BTreeMap::new();
        for n in self.pending.drain(..) {
            if n.method == "textDocument/publishDiagnostics" {
                let uri = n.params["uri"].as_str().expect("uri").to_owned();
                let file = uri.rsplit('/').next().unwrap_or_default().to_owned();
                last.insert(
                    file,
                    n.params["diagnostics"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
        last
    }

    pub fn open(&self, path: &Path) {
        let text = std::fs::read_to_string(path).expect("read");
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(path), "languageId": "sql", "version": 1, "text": text}}),
        );
    }

    /// Replaces the whole text of an open document.
    pub fn replace(&self, path: &Path, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri(path), "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    /// Replaces a range of an open document (0-based lines, UTF-16 columns).
    pub fn edit(
        &self,
        path: &Path,
        version: i32,
        (l0, c0, l1, c1): (u32, u32, u32, u32),
        text: &str,
    ) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri(path), "version": version},
                "contentChanges": [{"range": {"start": {"line": l0, "character": c0}, "end": {"line": l1, "character": c1}}, "text": text}],
            }),
        );
    }

    pub fn at(
        &mut self,
        method: &str,
        path: &Path,
        line: u32,
        character: u32,
        extra: Value,
    ) -> Value {
        let mut params = json!({"textDocument": {"uri": uri(path)}, "position": {"line": line, "character": character}});
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        let response = self.request(method, params);
        match response.response_result {
            Ok(value) => value,
            Err(err) => panic!("{method}: {err:?}"),
        }
    }

    pub fn shutdown(mut self) {
        let response = self.request("shutdown", Value::Null);
        assert!(response.response_result.is_ok());
        self.notify("exit", Value::Null);
        let server = self.server.take().expect("server");
        assert_eq!(server.join().expect("no panic"), Ok(()));
    }
}

/// The `file://` URI of a path, as the server names documents.
pub fn uri(path: &Path) -> String {
    rulec_lsp::path_to_uri(path).as_str().to_owned()
}
