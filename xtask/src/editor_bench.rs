//! `cargo xtask bench`, editor part: `rulec lsp` and the check cache on the generated pack.
//!
//! 1. **Language server latency.** Starts `rulec lsp` on the generated pack (stdio), opens
//!    one rule that other rules read, and times, from the client's side of the pipe:
//!    - an edit (`didChange`, the whole text) to the `publishDiagnostics` of that file, for
//!      edits that keep the rule's output schema (the common keystroke: a predicate, a
//!      literal) and, apart, for edits that break the rule and fix it again (the fix
//!      re-plans every reader);
//!    - `hover` on a nested column and `completion` after `f.node.` to their responses.
//!
//!    Each figure is p50, p95 and max over `--runs` x 10 samples.
//! 2. **The check cache.** A cold `rulec check` (no cache), then a one-file change and a
//!    `rulec check` with the cache the cold run left: each run's pair, medians and ratio.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The rule the benchmark edits: a layer-0 view that many rules read.
const EDITED: &str = "nodes_name.sql";

/// Runs both parts on `pack` (a generated pack) with `rulec`.
pub fn run(rulec: &Path, pack: &Path, runs: usize) -> anyhow::Result<()> {
    let samples = runs.max(1) * 10;
    lsp_latency(rulec, pack, samples)?;
    cache_ratio(rulec, pack, runs.max(1))?;
    Ok(())
}

fn lsp_latency(rulec: &Path, pack: &Path, samples: usize) -> anyhow::Result<()> {
    let file = pack.join(EDITED);
    let original = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    // Two texts with the same output schema and different plans.
    let variant = original.replacen("WHERE ", "WHERE f.file_id >= 0 AND ", 1);
    if variant == original {
        bail!("{EDITED} has no WHERE to edit");
    }
    let broken = original.replacen("f.node.cst_id", "f.node.cst_idd", 1);

    let started = Instant::now();
    let mut server = Server::start(rulec, pack)?;
    server.sync()?;
    println!(
        "rulec lsp on {}: started, pack loaded and checked in {:.0} ms",
        pack.display(),
        ms(started.elapsed())
    );
    let uri = file_uri(&file);
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "sql", "version": 1, "text": original}}),
    )?;
    server.wait_publish(&uri)?;

    let mut version = 1;
    let mut keep_schema = Vec::with_capacity(samples);
    for i in 0..samples {
        version += 1;
        let text = if i % 2 == 0 { &variant } else { &original };
        keep_schema.push(server.change(&uri, version, text)?);
    }
    let mut break_fix = Vec::with_capacity(samples);
    for i in 0..samples {
        version += 1;
        let text = if i % 2 == 0 { &broken } else { &original };
        break_fix.push(server.change(&uri, version, text)?);
    }
    // `SELECT f.file_id, f.path, f.node.cst_id`: hover on `cst_id`, complete after `f.node.`.
    let line = original
        .lines()
        .position(|l| l.contains("f.node.cst_id"))
        .context("no f.node.cst_id")?;
    let column = original
        .lines()
        .nth(line)
        .unwrap_or("")
        .find("f.node.cst_id")
        .unwrap_or(0);
    let mut hover = Vec::with_capacity(samples);
    let mut completion = Vec::with_capacity(samples);
    for _ in 0..samples {
        let at = json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": column + 9}});
        let (time, result) = server.timed_request("textDocument/hover", at)?;
        if result.is_null() {
            bail!("hover answered null");
        }
        hover.push(time);
        let at = json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": column + 7}});
        let (time, result) = server.timed_request("textDocument/completion", at)?;
        if result.as_array().is_none_or(Vec::is_empty) {
            bail!("completion answered no items: {result}");
        }
        completion.push(time);
    }
    server.stop()?;
    report(
        "didChange → publishDiagnostics, schema kept",
        &mut keep_schema,
    );
    report(
        "didChange → publishDiagnostics, break and fix",
        &mut break_fix,
    );
    report("hover", &mut hover);
    report("completion", &mut completion);
    Ok(())
}

fn cache_ratio(rulec: &Path, pack: &Path, runs: usize) -> anyhow::Result<()> {
    let file = pack.join(EDITED);
    let original = std::fs::read_to_string(&file)?;
    let variant = original.replacen("WHERE ", "WHERE f.file_id >= 0 AND ", 1);
    let cache = pack.join(".rulec-cache");
    let check = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let output = Command::new(rulec).arg("check").arg(pack).output()?;
        let time = started.elapsed();
        if !output.status.success() {
            bail!(
                "rulec check failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(time)
    };
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        std::fs::write(&file, &original)?;
        if cache.exists() {
            std::fs::remove_dir_all(&cache)?;
        }
        cold.push(check()?);
        // One file changes after the cold run.
        std::fs::write(&file, &variant)?;
        warm.push(check()?);
    }
    std::fs::write(&file, &original)?;
    let _ = std::fs::remove_dir_all(&cache);
    cold.sort();
    warm.sort();
    let (c, w) = (ms(cold[cold.len() / 2]), ms(warm[warm.len() / 2]));
    println!(
        "rulec check, {runs} runs: cold (no cache) median {c:.1} ms; with the cache after a one-file change median {w:.1} ms; warm/cold {:.1}%",
        100.0 * w / c
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| {
        let index = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        ms(times[index])
    };
    println!(
        "  {what}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} samples)",
        at(0.5),
        at(0.95),
        ms(times[times.len() - 1]),
        times.len()
    );
}

fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// A `rulec lsp` process and the messages it sends.
struct Server {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

impl Server {
    fn start(rulec: &Path, root: &Path) -> anyhow::Result<Server> {
        let mut child = Command::new(rulec)
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {} lsp", rulec.display()))?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = child.stdout.take().context("stdout")?;
        let (sender, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(body) = read_frame(&mut reader) {
                if let Ok(value) = serde_json::from_slice::<Value>(&body)
                    && sender.send(value).is_err()
                {
                    return;
                }
            }
        });
        let mut server = Server {
            child,
            stdin,
            messages,
            next_id: 0,
        };
        let root_uri = file_uri(root);
        server.request(
            "initialize",
            json!({"capabilities": {}, "workspaceFolders": [{"uri": root_uri, "name": "bench"}]}),
        )?;
        server.notify("initialized", json!({}))?;
        Ok(server)
    }

    fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let body = serde_json::to_vec(message)?;
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len())?;
        self.stdin.write_all(&body)?;
        self.stdin.flush()?;
        Ok(())
    }

    fn notify(&mut self, method: &str, params: Value) -> anyhow::Result<()> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
    }

    fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.timed_request(method, params).map(|(_, v)| v)
    }

    fn timed_request(&mut self, method: &str, params: Value) -> anyhow::Result<(Duration, Value)> {
        self.next_id += 1;
        let id = self.next_id;
        let started = Instant::now();
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let message = self.receive()?;
            if message["id"] == json!(id) {
                if let Some(error) = message.get("error") {
                    bail!("{method}: {error}");
                }
                return Ok((started.elapsed(), message["result"].clone()));
            }
        }
    }

    /// Waits until everything sent so far is handled.
    fn sync(&mut self) -> anyhow::Result<()> {
        self.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": "file:///nowhere.sql"}}),
        )
        .map(|_| ())
    }

    fn receive(&mut self) -> anyhow::Result<Value> {
        match self.messages.recv_timeout(Duration::from_secs(120)) {
            Ok(message) => Ok(message),
            Err(RecvTimeoutError::Timeout) => bail!("rulec lsp did not answer in 120 s"),
            Err(RecvTimeoutError::Disconnected) => bail!("rulec lsp exited"),
        }
    }

    fn wait_publish(&mut self, uri: &str) -> anyhow::Result<Value> {
        loop {
            let message = self.receive()?;
            if message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri
            {
                return Ok(message["params"]["diagnostics"].clone());
            }
        }
    }

    /// Sends a whole-text change and times it to the file's diagnostics.
    fn change(&mut self, uri: &str, version: i32, text: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        )?;
        self.wait_publish(uri)?;
        Ok(started.elapsed())
    }

    fn stop(mut self) -> anyhow::Result<()> {
        self.request("shutdown", Value::Null)?;
        self.notify("exit", Value::Null)?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("rulec lsp exited with {status}");
        }
        Ok(())
    }
}

fn read_frame(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}
