/**
 * The dashboard's "Review queue" card (issue 12): its HTML, style and browser script. The
 * script is served with the dashboard's own (one file, no inline script) and builds every
 * element with textContent: questions, answers and notes are user text.
 */
export const REVIEW_PATH = '/dashboard/review';

export const REVIEW_STYLE = `
.review-bar{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin-bottom:8px}
#review-queue tr.review-row{cursor:pointer}
#review-queue tr.review-row:hover,#review-queue tr.review-row[aria-expanded=true]{background:#f0f3fa}
.badge{display:inline-block;margin:1px 4px 1px 0;padding:1px 6px;border-radius:10px;font-size:12px;background:#eef;white-space:nowrap}
.badge.low_groundedness{background:#fde2c8}.badge.down{background:#f8d7da}.badge.handoff{background:#e2d5f5}
.status{font-weight:600}.status.open{color:#9b6a00}.status.good{color:#1d7a46}.status.bad{color:#b00020}.status.corrected{color:#4063d8}
.review-detail>td{background:#fafbfc;padding:8px 16px 16px}
.review-detail h3{font-size:13px;margin:12px 0 4px}
.review-answer,.passage-text{white-space:pre-wrap}
.review-answer{background:#fff;border:1px solid #e3e6ec;border-radius:6px;padding:8px}
mark.invented{background:#ffb3b3;font-weight:600}
.passage-loc{color:#667;font-size:12px;margin-left:6px}
.passage-changed{color:#b00020;font-size:12px;margin-left:6px}
.passage-text{color:#333;font-size:13px;margin:2px 0 8px}
.review-actions{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-top:8px}
.review-correction{width:100%;box-sizing:border-box;min-height:90px;font:inherit;margin:4px 0}
.review-faq-question{width:100%;box-sizing:border-box;font:inherit;margin:4px 0}
.review-result{color:#1d7a46}
`;

export const REVIEW_SECTION_HTML = `<section class="card wide" id="review"><h2>Review queue — weakest answers</h2>
<div class="review-bar">
<label>Status <select id="review-status"><option value="open">open</option><option value="good">good</option><option value="bad">bad</option><option value="corrected">corrected</option><option value="all">all</option></select></label>
<label>Reviewer <input id="review-by" maxlength="100" autocomplete="off"></label>
<span id="review-count"></span>
</div>
<table id="review-queue"><thead><tr><th>Flagged</th><th>Why</th><th>Profile</th><th>Question</th><th>Status</th></tr></thead><tbody></tbody></table></section>`;

/** Runs in the browser after the dashboard script; String.raw keeps the regular expressions' backslashes. */
export const REVIEW_SCRIPT = String.raw`
(() => {
  const section = document.getElementById('review');
  if (!section) return;
  const tbody = section.querySelector('#review-queue tbody');
  const statusSelect = document.getElementById('review-status');
  const byInput = document.getElementById('review-by');
  const REVIEWER_KEY = 'parley.reviewer';
  let items = [];
  let total = 0;
  const expanded = new Set();
  const drafts = new Map(); // id → { correction, note } typed but not sent
  const results = new Map(); // id → { ok, text } of the last action
  const busy = new Set();

  const stored = (() => { try { return localStorage.getItem(REVIEWER_KEY); } catch { return null; } })();
  byInput.value = stored || 'dashboard';
  byInput.addEventListener('change', () => {
    try { localStorage.setItem(REVIEWER_KEY, byInput.value.trim() || 'dashboard'); } catch {}
  });
  const reviewer = () => byInput.value.trim() || 'dashboard';

  /** An element with text content and plain attributes; children are nodes or strings (text nodes). */
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = String(v);
      else e.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== undefined && c !== null && c !== false) e.append(c);
    return e;
  };
  const when = (ms) => new Date(ms).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const who = (u) => (u ? u.name || u.id : '');

  function badges(item) {
    return item.flags.map((f) => {
      if (f.reason === 'low_groundedness') return el('span', { class: 'badge low_groundedness', title: 'share of the answer the passages back', text: 'grounded ' + (item.groundedness ?? 0).toFixed(2) });
      if (f.reason === 'down') return el('span', { class: 'badge down', title: '👎 by ' + who(f.user), text: f.note ? '👎 ' + f.note : '👎' });
      return el('span', { class: 'badge handoff', title: 'taken to a human by ' + who(f.user) + (f.note ? ': ' + f.note : ''), text: 'handed off' });
    });
  }

  /** The sentence with the numbers no passage contains marked (normalised as the groundedness check does). */
  function highlighted(sentence, invented) {
    const wanted = new Set(invented);
    const out = [];
    let last = 0;
    for (const m of sentence.matchAll(/\d+(?:[.,]\d+)*/g)) {
      if (!wanted.has(m[0].replace(/,(?=\d{3}\b)/g, ''))) continue;
      out.push(sentence.slice(last, m.index), el('mark', { class: 'invented', title: 'in no passage', text: m[0] }));
      last = m.index + m[0].length;
    }
    out.push(sentence.slice(last));
    return out;
  }

  function verdictText(item) {
    const r = item.review;
    if (!r) return item.status + ' — not reviewed yet';
    // A new flag reopens a reviewed item; its earlier review is shown as such.
    let t = (item.status === 'open' ? 'open again — earlier: ' : '') + r.verdict + ' — by ' + r.by + ', ' + when(r.at);
    if (r.note) t += ': ' + r.note;
    if (r.faq) t += ' → ' + r.faq.file + ' (' + r.faq.id + ')';
    return t;
  }

  function details(item) {
    const draft = drafts.get(item.id) || { correction: item.answer, question: item.question, note: '' };
    drafts.set(item.id, draft);
    const parts = [
      el('h3', { text: 'Answer' }),
      el('div', { class: 'review-answer', text: item.answer }),
      el('p', { class: 'review-meta', text: 'Answered ' + when(item.answeredAt) + ' from ' + item.source + ' in ' + item.channel + (item.groundedness === undefined ? '' : ', groundedness ' + item.groundedness.toFixed(2)) }),
    ];
    if (item.unsupported.length) {
      parts.push(el('h3', { text: 'Sentences the passages do not back' }),
        el('ul', { class: 'review-unsupported' }, ...item.unsupported.map((u) => el('li', null, ...highlighted(u.text, u.inventedNumbers)))));
    }
    parts.push(el('h3', { text: item.passages.length ? 'Passages the model was given' : 'No passages (the answer had no knowledge behind it)' }));
    if (item.passages.length) {
      parts.push(el('ol', { class: 'review-passages' }, ...item.passages.map((p) => el('li', { class: 'passage' },
        el('b', { class: 'passage-title', text: p.title }),
        el('span', { class: 'passage-loc', text: p.location }),
        p.changed ? el('span', { class: 'passage-changed', text: 'changed since the answer' }) : null,
        el('div', { class: 'passage-text', text: p.text ?? '(no longer in the knowledge base)' })))));
    }
    parts.push(el('h3', { text: 'Flags' }),
      el('ul', { class: 'review-flags' }, ...item.flags.map((f) => el('li', null,
        f.reason === 'low_groundedness' ? 'low groundedness' : f.reason === 'down' ? '👎' : 'handed off',
        ' — ' + when(f.at) + (f.user ? ' by ' + who(f.user) : '') + (f.note ? ': ' + f.note : '')))),
      el('p', { class: 'review-verdict' }, el('b', { text: 'Verdict: ' }), verdictText(item)));

    const note = el('input', { class: 'review-note', placeholder: 'note (optional)', maxlength: 2000 });
    note.value = draft.note;
    note.addEventListener('input', () => { draft.note = note.value; });
    const question = el('input', { class: 'review-faq-question', maxlength: 500, 'aria-label': 'FAQ question' });
    question.value = draft.question;
    question.addEventListener('input', () => { draft.question = question.value; });
    const correction = el('textarea', { class: 'review-correction', maxlength: 20000 });
    correction.value = draft.correction;
    correction.addEventListener('input', () => { draft.correction = correction.value; });
    const disabled = busy.has(item.id);
    const button = (cls, label, body) => {
      const b = el('button', { type: 'button', class: cls, text: label, disabled });
      b.addEventListener('click', () => act(item.id, body()));
      return b;
    };
    const noteOf = () => (draft.note.trim() ? { note: draft.note.trim() } : {});
    parts.push(
      el('div', { class: 'review-actions' }, button('review-good', 'Good', () => ({ verdict: 'good', ...noteOf() })), button('review-bad', 'Bad', () => ({ verdict: 'bad', ...noteOf() })), note),
      el('h3', { text: 'FAQ question (as asked; reword it to leave out anything personal)' }), question,
      el('h3', { text: 'Corrected answer' }), correction,
      el('div', { class: 'review-actions' }, button('review-save', 'Save as FAQ answer', () => ({ correction: draft.correction, ...(draft.question.trim() && draft.question.trim() !== item.question ? { question: draft.question.trim() } : {}), ...noteOf() }))),
    );
    const result = results.get(item.id);
    if (result) parts.push(el('p', { class: result.ok ? 'review-result' : 'review-error error', role: 'status', text: result.text }));
    return el('tr', { class: 'review-detail', 'data-id': item.id }, el('td', { colspan: 5 }, ...parts));
  }

  function rowsOf(item) {
    const open = expanded.has(item.id);
    const tr = el('tr', { class: 'review-row', 'data-id': item.id, 'data-status': item.status, tabindex: 0, 'aria-expanded': String(open) },
      el('td', { class: 'review-when', text: when(item.flaggedAt) }),
      el('td', { class: 'review-why' }, ...badges(item)),
      el('td', { class: 'review-profile', text: item.profile }),
      el('td', { class: 'review-question', text: item.question }),
      el('td', { class: 'review-status' }, el('span', { class: 'status ' + item.status, text: item.status })));
    const toggle = () => {
      if (open) expanded.delete(item.id);
      else expanded.add(item.id);
      render();
    };
    tr.addEventListener('click', toggle);
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(); } });
    return open ? [tr, details(item)] : [tr];
  }

  function render() {
    tbody.replaceChildren(...(items.length ? items.flatMap(rowsOf) : [el('tr', null, el('td', { colspan: 5, class: 'review-empty', text: 'Nothing to review in this period.' }))]));
    document.getElementById('review-count').textContent = (total > items.length ? 'the weakest ' + items.length + ' of ' : '') + total + (total === 1 ? ' answer' : ' answers');
  }

  async function act(id, body) {
    busy.add(id);
    results.delete(id);
    render();
    try {
      const res = await fetch('${REVIEW_PATH}/' + encodeURIComponent(id), {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, by: reviewer() }),
      });
      const r = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error((r.error && r.error.message) || 'the request failed (' + res.status + ')');
      const replace = (item) => { items = items.map((i) => (i.id === item.id ? item : i)); };
      replace(r.item);
      if (r.faq) {
        for (const other of r.alsoCorrected) {
          const twin = items.find((i) => i.id === other);
          if (twin) replace({ ...twin, status: 'corrected', review: r.item.review });
        }
        results.set(id, { ok: true, text: 'Saved to ' + r.faq.file + ' (entry ' + r.faq.id + ', ' + (r.faq.created ? 'new' : 'updated') + '). ' +
          (r.answersFromFaq ? 'This question is now answered from the FAQ, with no model call.' : 'The FAQ does not answer this question yet: a closer entry may win, or the re-index is pending.') +
          (r.alsoCorrected.length ? ' Also closed ' + r.alsoCorrected.length + ' other item(s) with the same question.' : '') });
      } else results.set(id, { ok: true, text: 'Marked ' + r.item.status + '.' });
    } catch (err) {
      results.set(id, { ok: false, text: String(err.message || err) });
    } finally {
      busy.delete(id);
      render();
    }
  }

  let loads = 0;
  async function load() {
    const seq = ++loads;
    const q = new URLSearchParams({ since: document.getElementById('since').value, status: statusSelect.value });
    const profile = document.getElementById('profile').value;
    if (profile) q.set('profile', profile);
    section.dataset.loaded = 'false';
    const res = await fetch('${REVIEW_PATH}?' + q, { credentials: 'same-origin' });
    if (!res.ok) throw new Error('review queue request failed: ' + res.status);
    const r = await res.json();
    if (seq !== loads) return; // a later period or filter was chosen meanwhile
    items = r.items;
    total = r.total;
    render();
    section.dataset.loaded = 'true';
  }
  const reload = () => load().catch((err) => { section.dataset.error = String(err); });
  for (const id of ['since', 'profile', 'review-status']) document.getElementById(id).addEventListener('change', reload);
  reload();
})();
`;
