import { REVIEW_SECTION_HTML, REVIEW_STYLE } from './review-page.js';

/**
 * The dashboard's HTML and browser script. No inline script (the CSP allows only this
 * server's files); Chart.js is served by the bot from node_modules, never from a CDN.
 */
const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2433}
header{display:flex;gap:16px;align-items:center;padding:12px 24px;background:#1d2433;color:#fff}
header h1{font-size:18px;margin:0;flex:1}
main{padding:16px 24px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(420px,1fr))}
.tiles{grid-column:1/-1;display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(150px,1fr))}
.tile,.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0002}
.tile b{display:block;font-size:24px}
.card h2{font-size:15px;margin:0 0 8px}
.wide{grid-column:1/-1}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #eee}
td.n{text-align:right}
form.login{max-width:320px;margin:80px auto;background:#fff;padding:24px;border-radius:8px;box-shadow:0 1px 3px #0003}
form.login input{width:100%;box-sizing:border-box;margin:8px 0;padding:8px}
.error{color:#b00020}
`;

export const CHART_PATH = '/dashboard/assets/chart.umd.min.js';
export const SCRIPT_PATH = '/dashboard/assets/dashboard.js';
export const DATA_PATH = '/dashboard/data';

/** `review`: with the review queue's card (when the dashboard has the review service). */
export function dashboardHtml(o: { review?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Parley support dashboard</title><style>${STYLE}${o.review ? REVIEW_STYLE : ''}</style></head>
<body>
<header><h1>Parley support</h1>
<label>Period <select id="since"><option value="7d">last 7 days</option><option value="30d">last 30 days</option><option value="90d">last 90 days</option></select></label>
<label>Profile <select id="profile"><option value="">all</option></select></label></header>
<main>
<section class="tiles">
<div class="tile">Questions<b id="kpi-questions">–</b></div>
<div class="tile">Handed to a human<b id="kpi-handoffs">–</b></div>
<div class="tile">👍 ratio<b id="kpi-up">–</b></div>
<div class="tile">Resolution rate<b id="kpi-resolution">–</b></div>
<div class="tile">First text p50 / p95<b id="kpi-latency">–</b></div>
<div class="tile">Estimated cost<b id="kpi-cost">–</b></div>
<div class="tile">Groundedness (mean) · queued<b id="kpi-grounded">–</b></div>
</section>
${o.review ? REVIEW_SECTION_HTML : ''}
<section class="card"><h2>Questions per day, by answer source</h2><canvas id="chart-volume"></canvas></section>
<section class="card"><h2>Answer sources</h2><canvas id="chart-sources"></canvas></section>
<section class="card"><h2>👍 ratio and resolution rate</h2><canvas id="chart-quality"></canvas></section>
<section class="card"><h2>Time to first visible text (ms)</h2><canvas id="chart-latency"></canvas></section>
<section class="card"><h2>Estimated cost (USD) and handoffs</h2><canvas id="chart-cost"></canvas></section>
<section class="card wide"><h2>Document next: unanswered, 👎 or handed-off questions</h2>
<table id="unanswered"><thead><tr><th>Question</th><th>Profile</th><th>Asked</th><th>Unanswered</th><th>👎</th><th>Handoffs</th></tr></thead><tbody></tbody></table></section>
</main>
<script src="${CHART_PATH}"></script>
<script src="${SCRIPT_PATH}"></script>
</body></html>`;
}

export function loginHtml(failed: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley dashboard: sign in</title><style>${STYLE}</style></head>
<body><form class="login" method="post" action="/dashboard/login">
<h1>Parley dashboard</h1>
${failed ? '<p class="error">That token is not right.</p>' : ''}
<label>Admin token<input type="password" name="token" autocomplete="current-password" autofocus required></label>
<button type="submit">Sign in</button>
</form></body></html>`;
}

/** Runs in the browser: reads the data endpoint and draws the charts. */
export const DASHBOARD_SCRIPT = `
(() => {
  const SOURCE_COLORS = { model: '#4063d8', faq: '#2a9d8f', knowledge: '#8ab17d', cache: '#b5c99a', declined: '#e76f51', error: '#9b2226' };
  const charts = {};
  const pct = (r) => (r === null || r === undefined ? '–' : Math.round(r * 100) + '%');
  const draw = (id, config) => {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), config);
  };
  async function load() {
    const q = new URLSearchParams({ since: document.getElementById('since').value });
    const profile = document.getElementById('profile').value;
    if (profile) q.set('profile', profile);
    const res = await fetch('${DATA_PATH}?' + q, { credentials: 'same-origin' });
    if (!res.ok) throw new Error('stats request failed: ' + res.status);
    const r = await res.json();
    const t = r.totals;
    document.getElementById('kpi-questions').textContent = String(t.questions);
    document.getElementById('kpi-handoffs').textContent = String(t.handoffs);
    document.getElementById('kpi-up').textContent = pct(t.upRatio);
    document.getElementById('kpi-resolution').textContent = pct(t.resolutionRate);
    document.getElementById('kpi-latency').textContent = (t.firstVisibleP50Ms ?? '–') + ' / ' + (t.firstVisibleP95Ms ?? '–') + ' ms';
    document.getElementById('kpi-cost').textContent = '$' + t.costUsd.toFixed(4);
    document.getElementById('kpi-grounded').textContent = (t.groundedness === null ? '–' : t.groundedness.toFixed(2)) + ' · ' + t.queuedForReview;
    const select = document.getElementById('profile');
    for (const p of r.profiles) if (![...select.options].some((o) => o.value === p.profile)) select.add(new Option(p.profile, p.profile));
    const labels = r.days.map((d) => d.day);
    const sources = Object.keys(t.sources);
    draw('chart-volume', { type: 'bar', data: { labels, datasets: sources.map((s) => ({ label: s, data: r.days.map((d) => d.sources[s] || 0), backgroundColor: SOURCE_COLORS[s] || '#999' })) },
      options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } } });
    draw('chart-sources', { type: 'doughnut', data: { labels: sources, datasets: [{ data: sources.map((s) => t.sources[s]), backgroundColor: sources.map((s) => SOURCE_COLORS[s] || '#999') }] }, options: { animation: false, aspectRatio: 2 } });
    const ratio = (v) => (v === null ? null : Math.round(v * 1000) / 10);
    draw('chart-quality', { type: 'line', data: { labels, datasets: [
      { label: '👍 ratio %', data: r.days.map((d) => ratio(d.upRatio)), borderColor: '#2a9d8f', spanGaps: true },
      { label: 'resolution rate %', data: r.days.map((d) => ratio(d.resolutionRate)), borderColor: '#4063d8', spanGaps: true } ] },
      options: { animation: false, scales: { y: { min: 0, max: 100 } } } });
    draw('chart-latency', { type: 'line', data: { labels, datasets: [
      { label: 'p50', data: r.days.map((d) => d.firstVisibleP50Ms), borderColor: '#4063d8', spanGaps: true },
      { label: 'p95', data: r.days.map((d) => d.firstVisibleP95Ms), borderColor: '#e76f51', spanGaps: true } ] },
      options: { animation: false, scales: { y: { beginAtZero: true } } } });
    draw('chart-cost', { type: 'bar', data: { labels, datasets: [
      { label: 'cost (USD)', data: r.days.map((d) => d.costUsd), backgroundColor: '#f4a261', yAxisID: 'y' },
      { label: 'handoffs', data: r.days.map((d) => d.handoffs), type: 'line', borderColor: '#9b2226', yAxisID: 'y1' } ] },
      options: { animation: false, scales: { y: { beginAtZero: true, position: 'left' }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } } } } });
    const body = document.querySelector('#unanswered tbody');
    body.replaceChildren(...r.unanswered.map((u) => {
      const tr = document.createElement('tr');
      for (const [v, n] of [[u.question], [u.profile], [u.asked, 1], [u.unanswered, 1], [u.down, 1], [u.handoffs, 1]]) {
        const td = document.createElement('td');
        td.textContent = String(v);
        if (n) td.className = 'n';
        tr.append(td);
      }
      return tr;
    }));
    document.body.dataset.loaded = 'true';
  }
  const reload = () => load().catch((err) => { document.body.dataset.error = String(err); });
  document.getElementById('since').addEventListener('change', reload);
  document.getElementById('profile').addEventListener('change', reload);
  reload();
})();
`;
