import { createHash } from 'node:crypto';

/**
 * The page at / of `mcp-fleet dev`: the fleet's state, refreshed every two seconds from /status.
 *
 * The page itself holds no secret and is served without the token. When the dev server has a
 * `--token`, the page asks for it (or takes it from the URL fragment, `/#token=…`, which browsers
 * never send to the server), keeps it in this tab's sessionStorage and sends it in an
 * `Authorization` header: no token ever travels in a URL.
 */

const STYLE = `
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
  h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
  details.trace { border: 1px solid #d0d7de; border-radius: .4rem; margin: 0 0 .5rem; padding: .35rem .6rem; }
  details.trace > summary { font-variant-numeric: tabular-nums; }
  details.trace.failed > summary { color: #cf222e; }
  .wf { display: grid; grid-template-columns: minmax(14rem, 22rem) 1fr 5rem; gap: 2px .6rem; margin: .5rem 0 .2rem; align-items: center; }
  .wf .name { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-size: 12px; }
  .wf .lane { position: relative; height: 14px; background: #f6f8fa; border-radius: 2px; }
  .wf .bar { position: absolute; top: 2px; height: 10px; min-width: 2px; border-radius: 2px; background: #8c959f; }
  .wf .bar.server { background: #0969da; }
  .wf .bar.invoke { background: #8250df; }
  .wf .bar.init { background: #bc4c00; }
  .wf .bar.invocation { background: #1a7f37; }
  .wf .bar.error { background: #cf222e; }
  .wf .ms { text-align: right; font-size: 12px; font-variant-numeric: tabular-nums; color: #57606a; }
  section[hidden] { display: none; }
  form#login { margin: 0 0 1.5rem; padding: 1rem; border: 1px solid #d0d7de; border-radius: .5rem; max-width: 32rem; }
  form#login[hidden] { display: none; }
  form#login p { margin: 0 0 .5rem; }
`;

const SCRIPT = `
  const KEY = 'mcp-fleet-dev-token';
  // A token handed over in the fragment (/#token=...) never reaches the server: keep it in this
  // tab, and take it out of the address bar and the history.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has('token')) {
    sessionStorage.setItem(KEY, fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const form = document.getElementById('login');
  const input = document.getElementById('token');
  const why = document.getElementById('login-why');
  let timer;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value !== '') sessionStorage.setItem(KEY, input.value);
    input.value = '';
    form.hidden = true;
    refresh();
  });
  document.getElementById('gateway').textContent = location.origin + '/mcp';
  document.getElementById('invoke').textContent = location.origin + '/2015-03-31/functions/<name>/invocations';
  const cell = (text, cls) => { const td = document.createElement('td'); if (cls) td.className = cls; td.textContent = text; return td; };
  // The traces the reader opened stay open across refreshes; the newest is open at first.
  const opened = new Set();
  let first = true;
  const ms = (n) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n)) + ' ms';
  function depthOf(span, byId) {
    let d = 0;
    for (let p = byId.get(span.parentSpanId); p && d < 20; p = byId.get(p.parentSpanId)) d++;
    return d;
  }
  function barClass(s) {
    if (s.status === 'error') return 'bar error';
    if (s.kind === 'server' && s.name.startsWith('invoke ')) return 'bar invoke';
    if (s.kind === 'server') return 'bar server';
    if (s.name === 'init') return 'bar init';
    if (s.name === 'invocation') return 'bar invocation';
    return 'bar';
  }
  function renderTraces(traces) {
    if (first && traces.length > 0) { opened.add(traces[0].traceId); first = false; }
    document.getElementById('traces').hidden = traces.length === 0;
    document.getElementById('trace-list').replaceChildren(...traces.map((t) => {
      const details = document.createElement('details');
      details.className = 'trace' + (t.error ? ' failed' : '');
      details.dataset.trace = t.traceId;
      details.open = opened.has(t.traceId);
      details.addEventListener('toggle', () => { if (details.open) opened.add(t.traceId); else opened.delete(t.traceId); });
      const summary = document.createElement('summary');
      summary.textContent = t.name + ' · ' + ms(t.durationMs) + ' · ' + new Date(t.startMs).toLocaleTimeString() + (t.error ? ' · failed' : '');
      details.append(summary);
      const grid = document.createElement('div');
      grid.className = 'wf';
      const byId = new Map(t.spans.map((s) => [s.spanId, s]));
      const total = Math.max(t.durationMs, 0.001);
      for (const s of t.spans) {
        const name = document.createElement('div');
        name.className = 'name';
        name.style.paddingLeft = depthOf(s, byId) * 1.1 + 'rem';
        name.textContent = s.name;
        name.title = s.error ? s.name + ': ' + s.error : s.name;
        const lane = document.createElement('div');
        lane.className = 'lane';
        const bar = document.createElement('div');
        bar.className = barClass(s);
        bar.dataset.span = s.name;
        bar.style.left = ((s.startMs - t.startMs) / total) * 100 + '%';
        bar.style.width = (s.durationMs / total) * 100 + '%';
        bar.title = s.name + ' ' + ms(s.durationMs) + (s.error ? ' — ' + s.error : '');
        lane.append(bar);
        const took = document.createElement('div');
        took.className = 'ms';
        took.textContent = ms(s.durationMs);
        grid.append(name, lane, took);
      }
      details.append(grid);
      return details;
    }));
  }
  async function refresh() {
    clearTimeout(timer);
    try {
      const token = sessionStorage.getItem(KEY);
      const res = await fetch('/status', { headers: token ? { Authorization: 'Bearer ' + token } : {}, cache: 'no-store' });
      if (res.status === 401) {
        sessionStorage.removeItem(KEY);
        why.textContent = token ? 'That token was refused; give the --token this dev server was started with.' : 'This dev server was started with --token; give it to see the fleet.';
        form.hidden = false;
        input.focus();
        document.getElementById('updated').textContent = 'needs the token';
        return;
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const { functions, rateLimits, traces } = await res.json();
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
        tr.append(cell(f.sessions
          ? f.sessions.length + ' session' + (f.sessions.length === 1 ? '' : 's') + ' (' + f.host + ', one environment each)'
          : f.environments.total + ' (' + f.environments.busy + ' busy, ' + f.environments.frozen + ' frozen) / ' + f.concurrencyLimit));
        tr.append(cell(String(f.calls), 'num'), cell(String(f.errors), 'num'));
        tr.append(cell(f.p50Ms === null ? '–' : String(f.p50Ms), 'num'), cell(f.p95Ms === null ? '–' : String(f.p95Ms), 'num'));
        tr.append(cell(f.maxMemoryUsedMb + ' / ' + f.memorySizeMb + ' MB', 'num'));
        tr.append(cell(f.lastError ? f.lastError.message : '', 'error'));
        const tools = document.createElement('td');
        const details = document.createElement('details');
        const summary = document.createElement('summary');
        summary.textContent = f.tools.length + ' tools';
        details.append(summary);
        for (const t of f.tools) { const c = document.createElement('div'); const code = document.createElement('code'); code.textContent = t; c.append(code); details.append(c); }
        tools.append(details);
        tr.append(tools);
        return tr;
      });
      document.getElementById('functions').replaceChildren(...rows);
      const limits = rateLimits || [];
      document.getElementById('limits').hidden = limits.length === 0;
      document.getElementById('limit-rows').replaceChildren(...limits.map((l) => {
        const tr = document.createElement('tr');
        tr.dataset.limit = l.id;
        tr.append(cell(l.id), cell(l.dimensionKeys.join(', ')), cell(String(l.admitted), 'num'), cell(String(l.throttled), 'num'));
        const use = document.createElement('td');
        for (const b of l.buckets) {
          const line = document.createElement('div');
          const parts = [];
          if (b.requests) parts.push(b.requests.used + ' / ' + b.requests.rate + ' per ' + b.requests.period);
          if (b.connections) parts.push(b.connections.inFlight + ' / ' + b.connections.limit + ' in flight');
          const code = document.createElement('code');
          code.textContent = b.limitKey;
          line.append(code, ' ' + parts.join(', '));
          use.append(line);
        }
        tr.append(use);
        return tr;
      }));
      renderTraces(traces || []);
      document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (err) {
      document.getElementById('updated').textContent = 'cannot reach the dev server: ' + err.message;
    }
    timer = setTimeout(refresh, 2000);
  }
  refresh();
`;

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>mcp-fleet dev</title>
<style>${STYLE}</style>
</head>
<body>
<h1>mcp-fleet dev</h1>
<p class="sub">Gateway: <code id="gateway"></code> · Lambda Invoke API: <code id="invoke"></code> · <span id="updated">loading…</span></p>
<form id="login" hidden autocomplete="off">
  <p id="login-why"></p>
  <label>Token <input id="token" type="password" autocomplete="off" spellcheck="false"></label>
  <button type="submit">Show the fleet</button>
</form>
<table>
  <thead><tr><th>Server</th><th>State</th><th>Environments</th><th class="num">Calls</th><th class="num">Errors</th><th class="num">p50 ms</th><th class="num">p95 ms</th><th class="num">Max memory</th><th>Last error</th><th>Tools</th></tr></thead>
  <tbody id="functions"></tbody>
</table>
<section id="traces" hidden>
<h2>Recent calls</h2>
<div id="trace-list"></div>
</section>
<section id="limits" hidden>
<h2>Rate limits</h2>
<table>
  <thead><tr><th>Limit</th><th>Dimension keys</th><th class="num">Admitted</th><th class="num">Throttled</th><th>In use now</th></tr></thead>
  <tbody id="limit-rows"></tbody>
</table>
</section>
<script>${SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string): string =>
  `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The page's Content-Security-Policy: its own inline script and style (by hash), fetches to its
 * own origin only, no frames around it, no form submissions, no plugins.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self'",
  "frame-ancestors 'none'",
  "form-action 'none'",
  "base-uri 'none'",
].join('; ');
