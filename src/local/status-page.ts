/** The page at / of `mcp-fleet dev`: the fleet's state, refreshed every two seconds from /status. */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcp-fleet dev</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1b1f24; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  p.sub { color: #57606a; margin: 0 0 1.5rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }
  th { font-weight: 600; background: #f6f8fa; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: 12px; font-weight: 600; }
  .state.warm { background: #dafbe1; color: #116329; }
  .state.cold { background: #ddf4ff; color: #0969da; }
  .state.failed { background: #ffebe9; color: #cf222e; }
  .error { color: #cf222e; max-width: 32rem; overflow-wrap: anywhere; }
  details summary { cursor: pointer; }
  code { font-size: 12px; }
</style>
</head>
<body>
<h1>mcp-fleet dev</h1>
<p class="sub">Gateway: <code id="gateway"></code> · Lambda Invoke API: <code id="invoke"></code> · <span id="updated">loading…</span></p>
<table>
  <thead><tr><th>Server</th><th>State</th><th>Environments</th><th class="num">Calls</th><th class="num">Errors</th><th class="num">p50 ms</th><th class="num">p95 ms</th><th class="num">Max memory</th><th>Last error</th><th>Tools</th></tr></thead>
  <tbody id="functions"></tbody>
</table>
<script>
  const token = new URLSearchParams(location.search).get('token');
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  document.getElementById('gateway').textContent = location.origin + '/mcp';
  document.getElementById('invoke').textContent = location.origin + '/2015-03-31/functions/<name>/invocations';
  const cell = (text, cls) => { const td = document.createElement('td'); if (cls) td.className = cls; td.textContent = text; return td; };
  async function refresh() {
    try {
      const res = await fetch('/status', { headers });
      const { functions } = await res.json();
      const rows = functions.map((f) => {
        const tr = document.createElement('tr');
        tr.dataset.server = f.id;
        tr.append(cell(f.id));
        const state = document.createElement('td');
        const badge = document.createElement('span');
        badge.className = 'state ' + f.state;
        badge.dataset.testid = 'state';
        badge.textContent = f.state;
        state.append(badge);
        tr.append(state);
        tr.append(cell(f.environments.total + ' (' + f.environments.busy + ' busy, ' + f.environments.frozen + ' frozen) / ' + f.concurrencyLimit));
        tr.append(cell(String(f.calls), 'num'), cell(String(f.errors), 'num'));
        tr.append(cell(f.p50Ms === null ? '–' : String(f.p50Ms), 'num'), cell(f.p95Ms === null ? '–' : String(f.p95Ms), 'num'));
        tr.append(cell(f.maxMemoryUsedMb + ' / ' + f.memorySizeMb + ' MB', 'num'));
        tr.append(cell(f.lastError ? f.lastError.message : '', 'error'));
        const tools = document.createElement('td');
        const details = document.createElement('details');
        const summary = document.createElement('summary');
        summary.textContent = f.tools.length + ' tools';
        details.append(summary);
        for (const t of f.tools) { const c = document.createElement('div'); c.innerHTML = '<code></code>'; c.firstChild.textContent = t; details.append(c); }
        tools.append(details);
        tr.append(tools);
        return tr;
      });
      document.getElementById('functions').replaceChildren(...rows);
      document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (err) {
      document.getElementById('updated').textContent = 'cannot reach the dev server: ' + err.message;
    }
  }
  refresh();
  setInterval(refresh, 2000);
</script>
</body>
</html>
`;
