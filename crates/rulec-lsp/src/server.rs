//! The server: the workspace's packs, open documents, the message loop and the handlers.

use crate::analysis::{self, CompletionKind, Target};
use crate::position::{from_position, path_to_uri, to_range, uri_to_path};
use crate::transport::log;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams,
    CodeActionProviderCapability, CompletionItem, CompletionItemKind, CompletionOptions,
    CompletionParams, CompletionResponse, DidChangeTextDocumentParams, DidChangeWatchedFilesParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DocumentSymbol, DocumentSymbolParams,
    DocumentSymbolResponse, FileChangeType, GotoDefinitionParams, GotoDefinitionResponse, Hover,
    HoverContents, HoverParams, HoverProviderCapability, InitializeParams, Location, MarkupContent,
    MarkupKind, OneOf, PublishDiagnosticsParams, ReferenceParams, ServerCapabilities, ServerInfo,
    SymbolKind, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};
use rulec_driver::Project;
use rulec_lineage::PackLineage;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One pack of the workspace and what the server derived from its last check.
struct PackHost {
    project: Project,
    /// Column lineage of the last check, built when first asked for.
    lineage: Option<PackLineage>,
    /// Each rule's scope in the last check, computed when first asked for.
    scopes: HashMap<String, analysis::Scope>,
    /// Each rule's last scope while its text parsed (completion goes on in broken text).
    last_good: HashMap<String, analysis::Scope>,
    /// Files edited since the last check.
    dirty: bool,
    /// Files that were last published with diagnostics.
    published: BTreeSet<String>,
}

/// An open document.
struct Document {
    text: String,
    version: i32,
}

/// The language server's state.
pub struct Server<'a> {
    connection: &'a Connection,
    packs: BTreeMap<PathBuf, PackHost>,
    documents: BTreeMap<PathBuf, Document>,
    shutdown: bool,
}

/// The capabilities rulec's server offers.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_owned()]),
            ..CompletionOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// Runs the protocol on `connection` until the client says `exit` or goes away.
pub fn serve(connection: &Connection) -> Result<(), String> {
    let capabilities = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    let (id, params) = connection
        .initialize_start()
        .map_err(|e| format!("initialize: {e}"))?;
    let params: InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let result = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": ServerInfo {
            name: "rulec".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        },
    });
    connection
        .initialize_finish(id, result)
        .map_err(|e| format!("initialize: {e}"))?;
    let mut server = Server {
        connection,
        packs: BTreeMap::new(),
        documents: BTreeMap::new(),
        shutdown: false,
    };
    for root in workspace_roots(&params) {
        for pack in find_packs(&root) {
            server.pack_for_root(&pack);
        }
    }
    server.publish_all();
    server.run()
}

fn workspace_roots(params: &InitializeParams) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|f| uri_to_path(&f.uri))
        .collect();
    #[expect(
        deprecated,
        reason = "`root_uri` is deprecated for workspace folders, which older clients do not send"
    )]
    if roots.is_empty()
        && let Some(root) = params.root_uri.as_ref().and_then(uri_to_path)
    {
        roots.push(root);
    }
    roots
}

/// Every pack directory (holding pack.yaml) under `root`, outside hidden and build
/// directories, at most eight levels down.
fn find_packs(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if dir.join("pack.yaml").is_file() {
            out.push(dir.to_path_buf());
        }
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !name.starts_with('.')
                    && !["target", "node_modules", "data", "out", "contracts"]
                        .contains(&name.as_str())
            })
            .map(|e| e.path())
            .collect();
        dirs.sort();
        for sub in dirs {
            walk(&sub, depth - 1, out);
        }
    }
    let mut out = Vec::new();
    walk(root, 8, &mut out);
    out
}

impl Server<'_> {
    fn run(&mut self) -> Result<(), String> {
        loop {
            // Edits are checked once the messages that came with them are handled.
            let message = if self.packs.values().any(|p| p.dirty) {
                match self.connection.receiver.try_recv() {
                    Ok(message) => message,
                    Err(crossbeam_channel::TryRecvError::Empty) => {
                        self.check_dirty();
                        continue;
                    }
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return Ok(()),
                }
            } else {
                match self.connection.receiver.recv() {
                    Ok(message) => message,
                    Err(_) => return Ok(()),
                }
            };
            match message {
                Message::Request(request) => self.on_request(request),
                Message::Notification(notification) => {
                    if notification.method == lsp_types::notification::Exit::METHOD {
                        return Ok(());
                    }
                    let method = notification.method.clone();
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.on_notification(notification)
                    }));
                    match handled {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => log(&format!("{method}: {err}")),
                        Err(_) => log(&format!("{method}: the handler panicked")),
                    }
                }
                Message::Response(_) => {}
            }
        }
    }

    fn send(&self, message: Message) {
        if self.connection.sender.send(message).is_err() {
            log("the client is gone");
        }
    }

    fn on_request(&mut self, request: Request) {
        let id = request.id.clone();
        if self.shutdown {
            self.send(Message::Response(Response::new_err(
                id,
                ErrorCode::InvalidRequest as i32,
                "the server is shutting down".to_owned(),
            )));
            return;
        }
        if request.method == crate::transport::MALFORMED {
            let code = request.params["code"]
                .as_i64()
                .and_then(|c| i32::try_from(c).ok());
            let message = request.params["message"]
                .as_str()
                .unwrap_or("malformed message");
            self.send(Message::Response(Response::new_err(
                id,
                code.unwrap_or(ErrorCode::InvalidRequest as i32),
                message.to_owned(),
            )));
            return;
        }
        if request.method == lsp_types::request::Shutdown::METHOD {
            self.shutdown = true;
            self.send(Message::Response(Response::new_ok(id, ())));
            return;
        }
        self.check_dirty();
        let method = request.method.clone();
        let answer =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.answer(request)));
        let response = match answer {
            Ok(Ok(result)) => Response::new_ok(id, result),
            Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
            Err(_) => {
                log(&format!("{method}: the handler panicked"));
                Response::new_err(
                    id,
                    ErrorCode::InternalError as i32,
                    format!("{method}: internal error"),
                )
            }
        };
        self.send(Message::Response(response));
    }

    fn answer(&mut self, request: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        fn params<P: serde::de::DeserializeOwned>(
            request: Request,
        ) -> Result<P, (ErrorCode, String)> {
            serde_json::from_value(request.params)
                .map_err(|e| (ErrorCode::InvalidParams, format!("{}: {e}", request.method)))
        }
        fn json<T: serde::Serialize>(value: T) -> Result<serde_json::Value, (ErrorCode, String)> {
            serde_json::to_value(value).map_err(|e| (ErrorCode::InternalError, e.to_string()))
        }
        use lsp_types::request as r;
        match request.method.as_str() {
            r::HoverRequest::METHOD => json(self.hover(params(request)?)),
            r::GotoDefinition::METHOD => json(self.definition(params(request)?)),
            r::References::METHOD => json(self.references(params(request)?)),
            r::Completion::METHOD => json(self.completion(params(request)?)),
            r::CodeActionRequest::METHOD => json(self.code_actions(params(request)?)),
            r::DocumentSymbolRequest::METHOD => json(self.symbols(params(request)?)),
            other => Err((
                ErrorCode::MethodNotFound,
                format!("rulec lsp does not handle `{other}`"),
            )),
        }
    }

    fn on_notification(&mut self, notification: Notification) -> Result<(), String> {
        use lsp_types::notification as n;
        fn params<P: serde::de::DeserializeOwned>(n: Notification) -> Result<P, String> {
            serde_json::from_value(n.params).map_err(|e| format!("invalid params: {e}"))
        }
        match notification.method.as_str() {
            n::DidOpenTextDocument::METHOD => {
                let p: DidOpenTextDocumentParams = params(notification)?;
                let Some(path) = uri_to_path(&p.text_document.uri) else {
                    return Ok(());
                };
                self.documents.insert(
                    path.clone(),
                    Document {
                        text: p.text_document.text,
                        version: p.text_document.version,
                    },
                );
                self.sync_file(&path);
                // An open document hears its diagnostics even when its text is the disk's.
                if let Some(root) = self.pack_root_of(&path)
                    && self.packs.get(&root).is_some_and(|p| !p.dirty)
                {
                    self.publish(&root);
                }
            }
            n::DidChangeTextDocument::METHOD => {
                let p: DidChangeTextDocumentParams = params(notification)?;
                let Some(path) = uri_to_path(&p.text_document.uri) else {
                    return Ok(());
                };
                let Some(document) = self.documents.get_mut(&path) else {
                    return Err(format!("change to `{}`, which is not open", path.display()));
                };
                for change in p.content_changes {
                    match change.range {
                        Some(range) => {
                            let start = byte_offset(&document.text, range.start);
                            let end = byte_offset(&document.text, range.end).max(start);
                            document.text.replace_range(start..end, &change.text);
                        }
                        None => document.text = change.text,
                    }
                }
                document.version = p.text_document.version;
                self.sync_file(&path);
            }
            n::DidCloseTextDocument::METHOD => {
                let p: DidCloseTextDocumentParams = params(notification)?;
                if let Some(path) = uri_to_path(&p.text_document.uri) {
                    self.documents.remove(&path);
                    self.sync_file(&path);
                }
            }
            n::DidChangeWatchedFiles::METHOD => {
                let p: DidChangeWatchedFilesParams = params(notification)?;
                for change in p.changes {
                    let Some(path) = uri_to_path(&change.uri) else {
                        continue;
                    };
                    if path.file_name().is_some_and(|n| n == "pack.yaml")
                        && change.typ == FileChangeType::CREATED
                        && let Some(dir) = path.parent()
                    {
                        self.pack_for_root(dir);
                    }
                    if !self.documents.contains_key(&path) {
                        self.sync_file(&path);
                    }
                }
            }
            _ => {} // `initialized`, `didSave`, `$/...`: nothing to do.
        }
        Ok(())
    }

    /// The pack rooted at `root`, loaded (with the open documents in it) if new.
    fn pack_for_root(&mut self, root: &Path) -> Option<&mut PackHost> {
        if !self.packs.contains_key(root) {
            let mut project = match Project::load(root) {
                Ok(project) => project,
                Err(err) => {
                    log(&err.to_string());
                    return None;
                }
            };
            for (path, document) in &self.documents {
                if let Ok(relative) = path.strip_prefix(root) {
                    project.set_file(
                        &relative_name(relative),
                        Some(document.text.clone().into_bytes()),
                    );
                }
            }
            project.check();
            self.packs.insert(
                root.to_path_buf(),
                PackHost {
                    project,
                    lineage: None,
                    scopes: HashMap::new(),
                    last_good: HashMap::new(),
                    dirty: false,
                    published: BTreeSet::new(),
                },
            );
            self.publish(root);
        }
        self.packs.get_mut(root)
    }

    /// The pack a file belongs to: the nearest directory above it with pack.yaml (an open
    /// pack.yaml counts too).
    fn pack_root_of(&self, path: &Path) -> Option<PathBuf> {
        path.ancestors().skip(1).find_map(|dir| {
            (self.packs.contains_key(dir)
                || dir.join("pack.yaml").is_file()
                || self.documents.contains_key(&dir.join("pack.yaml")))
            .then(|| dir.to_path_buf())
        })
    }

    /// Brings a file's text in its pack up to date: the open document's, else the disk's.
    fn sync_file(&mut self, path: &Path) {
        let Some(root) = self.pack_root_of(path) else {
            return; // Outside any pack.
        };
        let text = match self.documents.get(path) {
            Some(document) => Some(document.text.clone().into_bytes()),
            None => std::fs::read(path).ok(),
        };
        let Some(host) = self.pack_for_root(&root) else {
            return;
        };
        let Ok(relative) = path.strip_prefix(&root) else {
            return;
        };
        if host.project.set_file(&relative_name(relative), text) {
            host.dirty = true;
        }
    }

    /// Checks every edited pack and publishes its diagnostics.
    fn check_dirty(&mut self) {
        let dirty: Vec<PathBuf> = self
            .packs
            .iter()
            .filter(|(_, p)| p.dirty)
            .map(|(r, _)| r.clone())
            .collect();
        for root in dirty {
            if let Some(host) = self.packs.get_mut(&root) {
                host.project.check();
                host.lineage = None;
                host.scopes.clear();
                host.dirty = false;
            }
            self.publish(&root);
        }
    }

    fn publish_all(&mut self) {
        let roots: Vec<PathBuf> = self.packs.keys().cloned().collect();
        for root in roots {
            self.publish(&root);
        }
    }

    /// Publishes a pack's diagnostics, file by file: every file with findings, every file
    /// whose findings are gone (an empty list), and every open document of the pack.
    fn publish(&mut self, root: &Path) {
        let Some(host) = self.packs.get_mut(root) else {
            return;
        };
        let mut by_file: BTreeMap<String, Vec<lsp_types::Diagnostic>> = BTreeMap::new();
        for diagnostic in host.project.all_diagnostics() {
            let file = diagnostic
                .file
                .clone()
                .unwrap_or_else(|| "pack.yaml".to_owned());
            let text = host
                .project
                .files
                .text(&file)
                .and_then(Result::ok)
                .unwrap_or("");
            by_file
                .entry(file.clone())
                .or_default()
                .push(to_lsp_diagnostic(&diagnostic, text, &root.join(&file)));
        }
        let cleared: Vec<String> = host
            .published
            .iter()
            .filter(|f| !by_file.contains_key(*f))
            .cloned()
            .collect();
        host.published = by_file.keys().cloned().collect();
        let mut messages = Vec::new();
        for file in cleared {
            by_file.insert(file, Vec::new());
        }
        // Open documents of the pack hear after every check, clean or not.
        for path in self.documents.keys() {
            if let Ok(relative) = path.strip_prefix(root) {
                by_file.entry(relative_name(relative)).or_default();
            }
        }
        for (file, diagnostics) in by_file {
            let path = root.join(&file);
            let version = self.documents.get(&path).map(|d| d.version);
            messages.push(Message::Notification(Notification::new(
                lsp_types::notification::PublishDiagnostics::METHOD.to_owned(),
                PublishDiagnosticsParams {
                    uri: path_to_uri(&path),
                    diagnostics,
                    version,
                },
            )));
        }
        for message in messages {
            self.send(message);
        }
    }

    /// The pack, the rule name, the text and the 1-based cursor of a document position.
    fn locate(&mut self, uri: &Uri, position: lsp_types::Position) -> Option<Located> {
        let path = uri_to_path(uri)?;
        let root = self.pack_root_of(&path)?;
        self.pack_for_root(&root)?;
        let relative = relative_name(path.strip_prefix(&root).ok()?);
        let host = self.packs.get(&root)?;
        let text = host.project.files.text(&relative)?.ok()?.to_owned();
        let (line, column) = from_position(&text, position);
        let rule = host
            .project
            .pack
            .as_ref()?
            .rules
            .iter()
            .find(|r| r.file == relative)
            .map(|r| r.name.clone());
        Some(Located {
            root,
            rule,
            text,
            line,
            column,
        })
    }

    /// The host of a located document, with its lineage built and the rule's scope.
    fn analysed(&mut self, at: &Located) -> Option<(&PackHost, analysis::Scope)> {
        let rule = at.rule.as_deref()?;
        let host = self.packs.get_mut(&at.root)?;
        if host.lineage.is_none()
            && let (Some(pack), Some(compiled)) = (&host.project.pack, &host.project.compiled)
        {
            host.lineage = Some(PackLineage::build(pack, compiled));
        }
        let scope = match host.scopes.get(rule) {
            Some(scope) => scope.clone(),
            None => match analysis::scope(&host.project, rule) {
                Some(scope) => {
                    host.scopes.insert(rule.to_owned(), scope.clone());
                    host.last_good.insert(rule.to_owned(), scope.clone());
                    scope
                }
                None => host.last_good.get(rule).cloned().unwrap_or_default(),
            },
        };
        Some((host, scope))
    }

    /// What the name at a document position resolves to, with everything the answer needs.
    fn target_at(
        &mut self,
        at: &lsp_types::TextDocumentPositionParams,
    ) -> Option<(
        Located,
        &PackHost,
        analysis::Scope,
        Target,
        rulec_diagnostics::Span,
    )> {
        let located = self.locate(&at.text_document.uri, at.position)?;
        let (host, scope) = self.analysed(&located)?;
        let rule = located.rule.as_deref()?;
        let (target, span) = analysis::resolve(
            &host.project,
            &scope,
            rule,
            &located.text,
            located.line,
            located.column,
        )?;
        Some((located, host, scope, target, span))
    }

    fn hover(&mut self, p: HoverParams) -> Option<Hover> {
        let (at, host, _, target, span) = self.target_at(&p.text_document_position_params)?;
        let rule = at.rule.as_deref()?;
        let text = analysis::hover(&host.project, host.lineage.as_ref()?, rule, &target)?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: text,
            }),
            range: Some(to_range(&at.text, span)),
        })
    }

    fn definition(&mut self, p: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let (at, host, scope, target, _) = self.target_at(&p.text_document_position_params)?;
        let rule = at.rule.as_deref()?;
        let (file, span) = analysis::definition(&host.project, &scope, rule, &target)?;
        Some(GotoDefinitionResponse::Scalar(location(
            host, &at.root, &file, span,
        )))
    }

    fn references(&mut self, p: ReferenceParams) -> Option<Vec<Location>> {
        let (at, host, scope, target, _) = self.target_at(&p.text_document_position)?;
        let rule = at.rule.as_deref()?;
        let mut places = analysis::references(&host.project, host.lineage.as_ref()?, rule, &target);
        if p.context.include_declaration
            && let Some(definition) = analysis::definition(&host.project, &scope, rule, &target)
        {
            places.insert(0, definition);
        }
        Some(
            places
                .into_iter()
                .map(|(file, span)| location(host, &at.root, &file, span))
                .collect(),
        )
    }

    fn completion(&mut self, p: CompletionParams) -> Option<CompletionResponse> {
        let at = self.locate(
            &p.text_document_position.text_document.uri,
            p.text_document_position.position,
        )?;
        let (host, scope) = self.analysed(&at)?;
        let rule = at.rule.as_deref()?;
        let items =
            analysis::completions(&host.project, &scope, rule, &at.text, at.line, at.column)
                .into_iter()
                .map(|c| CompletionItem {
                    label: c.label,
                    kind: Some(match c.kind {
                        CompletionKind::Table => CompletionItemKind::STRUCT,
                        CompletionKind::Column => CompletionItemKind::FIELD,
                        CompletionKind::Field => CompletionItemKind::PROPERTY,
                        CompletionKind::Function => CompletionItemKind::FUNCTION,
                    }),
                    detail: Some(c.detail),
                    documentation: c.documentation.map(lsp_types::Documentation::String),
                    ..CompletionItem::default()
                })
                .collect();
        Some(CompletionResponse::Array(items))
    }

    fn code_actions(&mut self, p: CodeActionParams) -> Option<Vec<CodeActionOrCommand>> {
        let path = uri_to_path(&p.text_document.uri)?;
        let root = self.pack_root_of(&path)?;
        let host = self.pack_for_root(&root)?;
        let relative = relative_name(path.strip_prefix(&root).ok()?);
        let text = host.project.files.text(&relative)?.ok()?.to_owned();
        let mut actions = Vec::new();
        for diagnostic in host.project.all_diagnostics() {
            if diagnostic.file.as_deref() != Some(relative.as_str()) {
                continue;
            }
            let Some(span) = diagnostic.span else {
                continue;
            };
            let range = to_range(&text, span);
            let overlaps = range.start <= p.range.end && p.range.start <= range.end;
            if !overlaps {
                continue;
            }
            let Some(fix) = analysis::quick_fix(&diagnostic, &text) else {
                continue;
            };
            let edit = TextEdit {
                range: to_range(&text, fix.span),
                new_text: fix.replacement,
            };
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: fix.title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![to_lsp_diagnostic(&diagnostic, &text, &path)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(
                        std::iter::once((p.text_document.uri.clone(), vec![edit])).collect(),
                    ),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            }));
        }
        Some(actions)
    }

    fn symbols(&mut self, p: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let at = self.locate(&p.text_document.uri, lsp_types::Position::new(0, 0))?;
        let (host, scope) = self.analysed(&at)?;
        let rule = at.rule.as_deref()?;
        let output = host
            .project
            .compiled
            .as_ref()
            .and_then(|c| c.rule(rule))
            .and_then(|c| c.output_schema.clone());
        let mut symbols = Vec::new();
        #[expect(
            deprecated,
            reason = "`DocumentSymbol::deprecated` must be set, though the field is deprecated"
        )]
        let symbol = |name: &str, detail: Option<String>, kind, span| DocumentSymbol {
            name: name.to_owned(),
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: to_range(&at.text, span),
            selection_range: to_range(&at.text, span),
            children: None,
        };
        for cte in &scope.outline.ctes {
            if let Some(span) = cte.span {
                symbols.push(symbol(
                    &cte.name,
                    Some("CTE".to_owned()),
                    SymbolKind::NAMESPACE,
                    span,
                ));
            }
        }
        for column in &scope.outline.outputs {
            if let Some(span) = column.span {
                let detail = output
                    .as_ref()
                    .and_then(|s| s.field_with_name(&column.name).ok())
                    .map(|f| rulec_contract::render_type(f.data_type()));
                symbols.push(symbol(&column.name, detail, SymbolKind::FIELD, span));
            }
        }
        Some(DocumentSymbolResponse::Nested(symbols))
    }
}

/// A document position, resolved to its pack.
struct Located {
    root: PathBuf,
    rule: Option<String>,
    text: String,
    line: u32,
    column: u32,
}

fn location(host: &PackHost, root: &Path, file: &str, span: rulec_diagnostics::Span) -> Location {
    let text = host
        .project
        .files
        .text(file)
        .and_then(Result::ok)
        .unwrap_or("");
    Location::new(path_to_uri(&root.join(file)), to_range(text, span))
}

/// A pack-relative path with `/` separators.
fn relative_name(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The byte offset of a protocol position in `text` (clamped to the text).
fn byte_offset(text: &str, position: lsp_types::Position) -> usize {
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if index == position.line as usize {
            let mut units = 0;
            for (at, c) in line.char_indices() {
                if units >= position.character as usize || c == '\n' {
                    return offset + at;
                }
                units += c.len_utf16();
            }
            return offset + line.len();
        }
        offset += line.len();
    }
    text.len()
}

/// A rulec diagnostic as the protocol's: code, message with its notes and help, labels as
/// related information.
fn to_lsp_diagnostic(
    d: &rulec_diagnostics::Diagnostic,
    text: &str,
    path: &Path,
) -> lsp_types::Diagnostic {
    let range = d
        .span
        .map_or_else(lsp_types::Range::default, |span| to_range(text, span));
    let mut message = d.message.clone();
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let uri = path_to_uri(path);
    lsp_types::Diagnostic {
        range,
        severity: Some(match d.severity {
            rulec_diagnostics::Severity::Error => lsp_types::DiagnosticSeverity::ERROR,
            rulec_diagnostics::Severity::Warning => lsp_types::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp_types::NumberOrString::String(d.code.code.to_owned())),
        source: Some("rulec".to_owned()),
        message,
        related_information: (!d.labels.is_empty()).then(|| {
            d.labels
                .iter()
                .map(|l| lsp_types::DiagnosticRelatedInformation {
                    location: Location::new(uri.clone(), to_range(text, l.span)),
                    message: l.message.clone(),
                })
                .collect()
        }),
        ..lsp_types::Diagnostic::default()
    }
}
