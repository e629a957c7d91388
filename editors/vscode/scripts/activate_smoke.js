#!/usr/bin/env node
// Activates extension.js outside VS Code, against a stand-in `vscode` module, and prints as JSON
// the language client it would start (id, server command and arguments, document selector,
// initializationOptions and the settings section it synchronizes).
// tests/test_textmate_grammar.py runs it; it needs `npm ci` in editors/vscode first.
//
//   node editors/vscode/scripts/activate_smoke.js '{"server.path": "...", "server.args": [...]}' WORKSPACE
"use strict";

const Module = require("module");
const path = require("path");

const settings = JSON.parse(process.argv[2] || "{}");
const workspace = process.argv[3];

// Any property of the stand-in is another stand-in, callable and constructible, so the client
// library loads; the few things the extension reads are real values.
function standIn(name) {
  const target = function () {
    return standIn(`${name}()`);
  };
  return new Proxy(target, {
    get(object, property) {
      if (property === "then") return undefined;
      if (property === Symbol.toPrimitive) return () => name;
      if (!(property in object)) object[property] = standIn(`${name}.${String(property)}`);
      return object[property];
    },
    construct: () => standIn(`new ${name}`),
  });
}

const vscode = standIn("vscode");
vscode.workspace.getConfiguration = () => ({ get: (key, fallback) => (key in settings ? settings[key] : fallback) });
vscode.workspace.workspaceFolders = workspace ? [{ uri: { fsPath: workspace } }] : undefined;

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === "vscode" ? "vscode" : resolve.call(this, request, ...rest);
};
require.cache.vscode = { id: "vscode", filename: "vscode", loaded: true, exports: vscode };

const root = path.resolve(__dirname, "..");
const client = require(require.resolve("vscode-languageclient/node", { paths: [root] }));
const started = [];
client.LanguageClient = class {
  constructor(id, name, serverOptions, clientOptions) {
    started.push({
      id,
      name,
      server: serverOptions.run,
      selector: clientOptions.documentSelector,
      initializationOptions: clientOptions.initializationOptions,
      synchronize: clientOptions.synchronize,
    });
  }
  start() {
    return Promise.resolve();
  }
  stop() {
    return Promise.resolve();
  }
};

require(path.join(root, "extension.js"))
  .activate({ subscriptions: [] })
  .then(() => process.stdout.write(JSON.stringify(started)))
  .catch((error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exit(1);
  });
