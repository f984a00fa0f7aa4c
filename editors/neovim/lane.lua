-- The Neovim lane of `cargo xtask nvim`: a real editor client against `rulec lsp`.
--
-- Opens a rule with a typo, waits for rulec's diagnostic, fixes the typo in the buffer
-- (an edit the client sends as didChange), waits for the diagnostic to clear, then asks for
-- the hover of an output column. Writes what it saw to $RULEC_LANE_OUT as JSON lines; the
-- xtask checks them. Works on Neovim 0.7 (start_client) and later.

local rulec = os.getenv("RULEC_BIN")
local pack = os.getenv("RULEC_LANE_PACK")
local out = assert(io.open(os.getenv("RULEC_LANE_OUT"), "w"))

local function record(key, value)
  out:write(vim.fn.json_encode({ key = key, value = value }) .. "\n")
  out:flush()
end

local function finish(code)
  out:close()
  vim.cmd("cquit " .. code)
end

local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(pack .. "/libcst_nodes.sql"))
  local buf = vim.api.nvim_get_current_buf()
  local client = vim.lsp.start_client({
    name = "rulec",
    cmd = { rulec, "lsp" },
    root_dir = pack,
    workspace_folders = { { uri = vim.uri_from_fname(pack), name = "cpg" } },
  })
  assert(client, "the client did not start")
  vim.lsp.buf_attach_client(buf, client)

  -- The typo's diagnostic.
  local found = vim.wait(60000, function()
    return #vim.diagnostic.get(buf) > 0
  end, 50)
  assert(found, "no diagnostic within 60 s")
  local d = vim.diagnostic.get(buf)[1]
  record("diagnostic", { code = d.code, message = d.message, line = d.lnum, col = d.col, source = d.source })

  -- Fix it in the buffer: the client sends the edit.
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  for i, line in ipairs(lines) do
    if line:find("f.node.knd", 1, true) then
      local fixed = line:gsub("f%.node%.knd", "f.node.kind")
      vim.api.nvim_buf_set_lines(buf, i - 1, i, false, { fixed })
    end
  end
  local cleared = vim.wait(60000, function()
    return #vim.diagnostic.get(buf) == 0
  end, 50)
  assert(cleared, "the diagnostic did not clear within 60 s")
  record("cleared", true)

  -- Hover on the output column `kind` (the alias after AS).
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local at = line:find("AS kind", 1, true)
    if at then
      vim.api.nvim_win_set_cursor(0, { i, at + 2 })
    end
  end
  local params = vim.lsp.util.make_position_params()
  local responses = vim.lsp.buf_request_sync(buf, "textDocument/hover", params, 30000)
  local text = ""
  for _, response in pairs(responses or {}) do
    if response.result and response.result.contents then
      text = response.result.contents.value or ""
    end
  end
  record("hover", text)
end)

if not ok then
  record("error", tostring(err))
  finish(1)
else
  finish(0)
end
