// The VS Code client for specc: starts `specc lsp` (the language server, on stdio) for *.cnn files
// and restarts it when the `specc.server.*` settings change. The other `specc.*` settings
// (`specc.inlayHints.costs`) go to the server as initializationOptions when it starts and as
// workspace/didChangeConfiguration when they change. Highlighting is the TextMate grammar in
// syntaxes/, which works without the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;
let traceChannel;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("specc");
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
  // `${workspaceFolder}` in the setting, as VS Code users write it in tasks, points at the first folder.
  const command = config.get("server.path", "specc").replace(/\$\{workspaceFolder\}/g, folder);
  const args = config.get("server.args", ["lsp"]);
  const executable = { command, args, transport: TransportKind.stdio, options: { cwd: folder || undefined } };
  return { run: executable, debug: executable };
}

// What the server reads at start (docs/lsp.md, Settings); later changes come as didChangeConfiguration.
function initializationOptions() {
  const config = vscode.workspace.getConfiguration("specc");
  return { inlayHints: { costs: config.get("inlayHints.costs", false) === true } };
}

async function start() {
  const clientOptions = {
    initializationOptions: initializationOptions(),
    synchronize: { configurationSection: "specc" },
    documentSelector: [
      { scheme: "file", language: "cnn" },
      { scheme: "untitled", language: "cnn" },
    ],
    outputChannelName: "specc",
    traceOutputChannel: traceChannel,
  };
  client = new LanguageClient("specc", "specc language server", serverOptions(), clientOptions);
  try {
    await client.start();
  } catch (error) {
    const path = vscode.workspace.getConfiguration("specc").get("server.path", "specc");
    const choice = await vscode.window.showErrorMessage(
      `specc: could not start the language server with \`${path} lsp\` (${error.message || error}). ` +
        "Install specc (pip install specc) or set `specc.server.path`.",
      "Open settings",
    );
    if (choice === "Open settings") {
      vscode.commands.executeCommand("workbench.action.openSettings", "specc.server");
    }
    client = undefined;
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

async function activate(context) {
  // One trace channel for the session, reused across restarts of the server.
  traceChannel = vscode.window.createOutputChannel("specc trace");
  context.subscriptions.push(
    traceChannel,
    vscode.commands.registerCommand("specc.restartServer", async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("specc.server")) {
        await stop();
        await start();
      }
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
