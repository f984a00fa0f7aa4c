// The rulec extension: starts `rulec lsp` for SQL rules, contracts and pack.yaml.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("rulec").get("path") || "rulec";
  const server = { command, args: ["lsp"], transport: TransportKind.stdio };
  client = new LanguageClient(
    "rulec",
    "rulec",
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: "file", language: "sql" },
        { scheme: "file", pattern: "**/contracts/*.{yaml,yml}" },
        { scheme: "file", pattern: "**/pack.yaml" },
      ],
      synchronize: {
        // Files changed outside the editor (git checkout, generators) are re-read.
        fileEvents: vscode.workspace.createFileSystemWatcher("**/{*.sql,pack.yaml,contracts/*.yaml,contracts/*.yml}"),
      },
    }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
