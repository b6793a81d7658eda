// 接线: log a call with the keyboard alone — caller history as the number is typed, the
// routing preview and similar tickets before saving, the knowledge base to resolve
// directly — and the manual-dispatch and callback queues.
import { t } from './i18n.js';
import { get, post, optional, live, session } from './api.js';
import { h, clip, debounce, toast, errorText, fmtInstant, dialog, statusLabel, limitText } from './dom.js';
import { departmentNames, deptName, ticketRow, historyPanel, detailCard } from './tickets.js';
import { liveState } from './app.js';
import { picker, categoryChoices } from './picker.js';
import { assignDialog, loadPolicies, policyLabel } from './assign.js';
import { seatBar } from './seats.js';
import { attachSuggestions } from './suggest.js';
import { emergency, emergencyPanel, emergencyKey } from './emergency.js';

const KINDS = ['consult', 'help', 'complaint', 'report', 'suggestion', 'praise'];
const MAX_CONTENT = 4000;

export async function mount(main) {
  const [{ list: depts }, categories, streets] = await Promise.all([
    departmentNames(), get('/api/v1/categories'), get('/api/v1/streets'),
  ]);
  const leaves = categories.filter((c) => c.leaf);
  const leafByCode = Object.fromEntries(leaves.map((c) => [c.code, c]));
  // The category by name, path, code or pinyin initials (picker.js), never a bare code.
  const categoryBox = picker({ id: 'f-category', name: 'category', items: categoryChoices(categories),
    placeholder: t('console.category.hint'), required: true, label: t('console.category') });
  loadPolicies();

  // ---- the call form, in tab order ----
  const f = {
    phone: h('input#f-phone', { name: 'caller_phone', inputmode: 'tel', autocomplete: 'off', required: true }),
    name: h('input#f-name', { name: 'caller_name', autocomplete: 'off', maxlength: 50 }),
    confidential: h('input#f-confidential', { type: 'checkbox', name: 'confidential' }),
    kind: h('select#f-kind', { name: 'kind' }, KINDS.map((k) => h('option', { value: k }, t('kind.' + k)))),
    category: categoryBox.input,
    street: h('select#f-street', { name: 'street' }, h('option', { value: '' }, t('console.street.auto')),
      streets.map((s) => h('option', { value: s.code }, s.name))),
    address: h('input#f-address', { name: 'address', autocomplete: 'off', maxlength: 200 }),
    content: h('textarea#f-content', { name: 'content', rows: 4, required: true, maxlength: MAX_CONTENT }),
    urgency: h('select#f-urgency', { name: 'urgency' },
      ['normal', 'urgent'].map((u) => h('option', { value: u }, t('urgency.' + u)))),
    consent: h('input#f-consent', { type: 'checkbox', name: 'callback_consent', checked: true }),
    answer: h('textarea#f-answer', { name: 'answer', rows: 3, placeholder: t('console.answer.hint') }),
  };
  f.kind.value = 'complaint';
  const errors = {};
  const field = (key, label, input, cls = '') => {
    errors[key] = h('span.field-error', { id: 'err-' + key });
    return h('label.field' + cls, h('span', label), input, errors[key]);
  };
  const check = (label, input) => h('label.check', input, h('span', label));
  const resolveBox = h('div.resolve-box#resolve-box', { hidden: true },
    field('answer', t('console.answer'), f.answer));
  let articleId = null;

  const saveBtn = h('button.primary#save', { type: 'button', onclick: () => save({ andNew: false }) },
    t('console.save'), h('kbd', 'Ctrl+Enter'));
  const saveNewBtn = h('button#save-new', { type: 'button', onclick: () => save({ andNew: true }) },
    t('console.saveNew'), h('kbd', 'Ctrl+Shift+Enter'));
  const resolveBtn = h('button#resolve', { type: 'button', onclick: () => toggleResolve() },
    t('console.resolve'), h('kbd', 'Alt+R'));
  const result = h('div.result#call-result', { role: 'status' });
  const callPanel = h('section.console-grid#panel-call');
  const suggestions = attachSuggestions(f, leafByCode, callPanel, (code) => categoryBox.set(code, false));
  const suggestBox = suggestions.box;

  const form = h('form.card.call-form#call-form', { onsubmit: (e) => { e.preventDefault(); save({ andNew: false }); } },
    h('div.row2', field('caller_phone', t('console.phone'), f.phone), field('caller_name', t('console.name'), f.name)),
    h('div.row3', field('kind', t('console.kind'), f.kind), field('urgency', t('console.urgency'), f.urgency),
      h('div.checks', check(t('console.confidential'), f.confidential), check(t('console.consent'), f.consent))),
    field('category', t('console.category'), categoryBox), suggestBox,
    h('div.row2', field('street', t('console.street'), f.street), field('address', t('console.address'), f.address)),
    field('content', t('console.content'), f.content),
    resolveBox,
    h('div.actions', saveBtn, saveNewBtn, resolveBtn),
    h('p.shortcuts#shortcuts', t('console.shortcuts').split(' · ').map((k) => h('span', k))),
    result);

  // ---- the side: preview, similar, history, knowledge base ----
  const previewBox = h('div#preview', h('p.muted', t('console.preview.type')));
  const similarBox = h('div#similar', h('p.muted', '—'));
  const historyBox = h('div#caller-history', h('p.muted', t('console.history.type')));
  const kbInput = h('input#kb-q', { type: 'search', placeholder: t('console.kb.search'), 'aria-label': t('console.kb.search') });
  const kbBox = h('div#kb-results');
  const side = h('aside.side',
    h('section.card', h('h3', t('console.preview')), previewBox),
    h('section.card', h('h3', t('console.similar')), similarBox),
    h('section.card', h('h3', t('console.history')), historyBox),
    h('section.card', h('h3', t('console.kb'), h('kbd', 'Alt+K')), kbInput, kbBox));

  // ---- queues ----
  const manualBox = h('div.queue#manual-queue');
  const callbackBox = h('div.queue#callback-queue');
  const searchInput = h('input#search-q', { type: 'search', placeholder: t('console.search.hint'), 'aria-label': t('console.tab.search') });
  const searchBox = h('div.queue#search-results');
  const panels = {
    call: (callPanel.append(form, side), callPanel),
    manual: h('section.card#panel-manual', { hidden: true }, manualBox),
    callbacks: h('section.card#panel-callbacks', { hidden: true }, callbackBox),
    search: h('section.card#panel-search', { hidden: true }, searchInput, searchBox),
  };
  const TABS = ['call', 'manual', 'callbacks', 'search'];
  const counts = { manual: h('span.count'), callbacks: h('span.count') };
  const tabs = h('div.tabs', { role: 'tablist' },
    TABS.map((k, i) => h('button.tab#tab-' + k, { type: 'button', role: 'tab',
      onclick: () => show(k) }, t('console.tab.' + k), counts[k] || null, h('kbd', 'Alt+' + (i + 1)))));
  // 坐席: the phone rings → the caller's number and call id go into a fresh form.
  const cti = seatBar({ onPop: (pop) => {
    reset(true);
    f.phone.value = pop.new_ticket.caller_phone || '';
    f.phone.dispatchEvent(new Event('input'));
    f.phone.focus();
  } });
  main.append(h('div.console', cti.element, tabs, panels.call, panels.manual, panels.callbacks, panels.search));

  function show(which) {
    for (const [k, p] of Object.entries(panels)) p.hidden = k !== which;
    tabs.querySelectorAll('.tab').forEach((b) => b.classList.toggle('active', b.id === 'tab-' + which));
    if (which === 'call') f.phone.focus();
    if (which === 'search') searchInput.focus();
  }
  show('call');

  // ---- keyboard ----
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.ctrlKey && !panels.call.hidden) {
      e.preventDefault();
      save({ andNew: e.shiftKey });
    } else if (e.altKey && (e.key === 'r' || e.key === 'R' || e.code === 'KeyR')) {
      e.preventDefault();
      show('call');
      toggleResolve(true);
    } else if (e.altKey && e.code === 'KeyK') {
      e.preventDefault();
      show('call');
      kbInput.focus();
    } else if (!panels.call.hidden && emergencyKey(e, () => showPreview(shownPreview))) {
      // 可能紧急: Alt+E confirm, Alt+T hand off, Alt+X dismiss (emergency.js)
    } else if (e.altKey && e.code === 'KeyN') {
      e.preventDefault();
      reset();
    } else if (e.altKey && ['Digit1', 'Digit2', 'Digit3', 'Digit4'].includes(e.code)) {
      e.preventDefault();
      show(TABS[Number(e.code.slice(-1)) - 1]);
    } else if (e.key === 'Escape' && !resolveBox.hidden && !document.querySelector('dialog[open]')) {
      toggleResolve(false);
    }
  });

  function toggleResolve(on) {
    const open = on === undefined ? resolveBox.hidden : on;
    resolveBox.hidden = !open;
    resolveBtn.classList.toggle('active', open);
    if (open) f.answer.focus();
    else articleId = null;
  }

  // ---- values and checks ----
  const categoryCode = () => categoryBox.value;
  const phoneValue = () => f.phone.value.trim();
  const phoneOk = (p) => /^1[3-9]\d{9}$/.test(p) || /^0\d{2,3}-?\d{7,8}$/.test(p) || /^\d{5,6}$/.test(p);

  function clearErrors() {
    for (const [k, el] of Object.entries(errors)) {
      el.textContent = '';
      const input = form.querySelector(`[name="${k}"]`);
      if (input) input.removeAttribute('aria-invalid');
    }
  }
  function fieldError(key, message) {
    const el = errors[key] || errors.content;
    el.textContent = message;
    const input = form.querySelector(`[name="${key}"]`);
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  }

  function body() {
    const b = {
      kind: f.kind.value, channel: 'phone', urgency: f.urgency.value, category: categoryCode(),
      address: f.address.value, content: f.content.value, caller_name: f.name.value, caller_phone: phoneValue(),
      confidential: f.confidential.checked, callback_consent: f.consent.checked,
    };
    if (f.street.value) b.street = f.street.value;
    if (cti.callId()) b.call_id = cti.callId();
    const shown = suggestions.shown();
    if (shown) b.suggestion = shown;
    return b;
  }

  let saving = false;
  async function save({ andNew, mergeInto }) {
    if (saving || form.classList.contains('saved')) return;
    clearErrors();
    const b = body();
    if (emergency.proposal && emergency.choice) b.emergency = emergency.choice;
    const resolving = !resolveBox.hidden;
    if (!phoneOk(b.caller_phone)) return fieldError('caller_phone', t('msg.phone'));
    if (!leafByCode[b.category]) return fieldError('category', t('msg.category'));
    if (!b.content.trim()) return fieldError('content', t('msg.required', { f: t('field.content') }));
    if (resolving && !f.answer.value.trim()) return fieldError('answer', t('msg.required', { f: t('field.answer') }));
    if (resolving) b.resolve = { answer: f.answer.value.trim(), callback_consent: f.consent.checked, article_id: articleId };
    if (mergeInto) b.route = false;
    saving = true;
    try {
      const created = await post('/api/v1/tickets', b);
      let message;
      if (mergeInto) {
        await post(`/api/v1/tickets/${created.id}/merge`, { into: String(mergeInto.id) });
        message = t('console.merged', { n: mergeInto.number });
      } else if (resolving) {
        message = t('console.resolved', { n: created.number });
      } else if (created.handed_off_to) {
        message = `${t('console.saved', { n: created.number })} · 已转接 ${created.handed_off_to}（转办）`;
      } else if (created.routing && created.routing.outcome === 'routed' && created.lead) {
        message = `${t('console.saved', { n: created.number })} · ${t('console.routed', { d: deptName(created.routing.lead) })}`;
      } else {
        message = `${t('console.saved', { n: created.number })} · ${t('console.toManual')}`;
      }
      showResult(created, message);
      toast(message, 'ok');
      if (andNew) reset();
      else form.classList.add('saved');
    } catch (e) {
      if (e.body && e.body.field) fieldError(e.body.field, errorText(e));
      else toast(errorText(e), 'error');
    } finally {
      saving = false;
    }
  }

  function showResult(ticket, message) {
    const reply = ticket.reply_deadline;
    // replaceChildren writes a null as the text "null" (a handed-off call has no reply clock).
    result.replaceChildren(...[
      h('p.ok', message),
      h('p', h('span.number#saved-number', ticket.number), ' ', h('span.badge.status-' + ticket.status, statusLabel(ticket)),
        ticket.routing_rule ? h('span.muted', ' · ' + ticket.routing_rule) : null),
      reply ? h('p', t('console.preview.reply'), '：', limitText(reply), ' ', fmtInstant(reply.at, true)) : null,
      h('button#new-call', { type: 'button', onclick: reset }, t('console.new'), h('kbd', 'Alt+N'))].filter(Boolean));
    if (!form.classList.contains('saved')) result.querySelector('#new-call').focus();
  }

  function reset(keepCall) {
    if (keepCall !== true) cti.clear();
    form.classList.remove('saved');
    result.replaceChildren();
    categoryBox.clear();
    mergeable.clear();
    for (const k of ['phone', 'name', 'address', 'content', 'answer']) f[k].value = '';
    f.confidential.checked = false;
    f.consent.checked = true;
    f.kind.value = 'complaint';
    f.urgency.value = 'normal';
    f.street.value = '';
    articleId = null;
    emergency.clear();
    toggleResolve(false);
    clearErrors();
    previewBox.replaceChildren(h('p.muted', t('console.preview.type')));
    suggestions.clear();
    similarBox.replaceChildren(h('p.muted', '—'));
    historyBox.replaceChildren(h('p.muted', t('console.history.type')));
    show('call');
  }
  // Saved form: the next keystroke in it starts nothing by accident; Alt+N or the button starts anew.
  form.addEventListener('focusin', () => { if (form.classList.contains('saved')) result.querySelector('#new-call')?.focus(); });

  // ---- caller history as the number is typed ----
  const loadHistory = debounce(async () => {
    const p = phoneValue();
    if (!phoneOk(p)) { historyBox.replaceChildren(h('p.muted', t('console.history.type'))); return; }
    try {
      const { tickets } = await get(`/api/v1/callers/${encodeURIComponent(p)}/tickets`);
      if (p !== phoneValue()) return;
      historyBox.replaceChildren(tickets.length
        ? h('div.list', tickets.map((tk) => ticketRow(tk, rowActions(tk))))
        : h('p.muted', t('console.history.none')));
    } catch (e) {
      historyBox.replaceChildren(h('p.error', errorText(e)));
    }
  }, 250);
  f.phone.addEventListener('input', () => { loadHistory(); loadSimilar(); });

  // Tickets the duplicate finder says are the same problem (same category or words): only
  // these are offered a merge; the caller's other tickets are shown, never merged.
  const mergeable = new Set();
  function offerMerges() {
    historyBox.querySelectorAll('.ticket-row').forEach((row) => {
      const b = row.querySelector('button.merge');
      if (b) b.hidden = !mergeable.has(Number(row.dataset.id));
    });
  }
  function rowActions(tk) {
    const open = !['closed', 'merged'].includes(tk.status);
    return h('div.row-actions',
      open ? h('button.small.merge', { type: 'button', hidden: !mergeable.has(tk.id), onclick: () => save({ andNew: true, mergeInto: tk }) }, t('console.merge')) : null,
      h('button.small', { type: 'button', onclick: () => openHistory(tk) }, t('common.history')));
  }

  // ---- routing preview ----
  // Answers may come back out of order: only the latest request's answer is shown.
  let previewSeq = 0;
  const loadPreview = debounce(async () => {
    const seq = ++previewSeq;
    const b = body();
    if (!b.category && !b.content.trim()) return;
    const req = { kind: b.kind, channel: 'phone', urgency: b.urgency, category: b.category, address: b.address, content: b.content };
    if (b.street) req.street = b.street;
    try {
      const p = await post('/api/v1/dispatch/preview', req);
      if (seq !== previewSeq) return;
      showPreview(p);
      if (!form.classList.contains('saved')) result.replaceChildren();
    } catch (e) {
      previewBox.replaceChildren(h('p.error', errorText(e)));
    }
  }, 350);
  for (const k of ['kind', 'category', 'street', 'address', 'content', 'urgency']) {
    f[k].addEventListener('input', loadPreview);
    f[k].addEventListener('change', loadPreview);
  }

  let shownPreview = null;
  function showPreview(p) {
    shownPreview = p;
    const panel = emergencyPanel(p, () => showPreview(shownPreview), deptName);
    previewBox.replaceChildren(...[panel, renderPreview(routedAs(p))].filter(Boolean));
  }

  // Once the operator dismisses a proposal, the preview shows where the call goes then (its
  // unit, rule, policy and deadlines), not the emergency rule's.
  function routedAs(p) {
    const d = p.if_dismissed;
    if (emergency.choice !== 'dismiss' || !d) return p;
    return { decision: d, rule_description: d.rule_description, policy_label: d.policy_label,
      reply_deadline: d.reply_deadline, accept_deadline: d.accept_deadline };
  }

  function renderPreview(p) {
    const d = p.decision || {};
    if (d.outcome !== 'routed') {
      return h('div.preview.manual', h('p.warn', t('console.preview.manual')), d.reason ? clip(d.reason) : null);
    }
    const dl = (k, v) => [h('dt', k), h('dd', v)];
    const deadline = (x) => (x ? `${limitText(x)} · ${fmtInstant(x.at, true)}` : '—');
    return h('div.preview.routed',
      h('p.lead#preview-lead', { title: d.lead }, deptName(d.lead), d.assist && d.assist.length ? h('span.muted', ' + ' + d.assist.map(deptName).join('、')) : null),
      h('dl',
        dl(t('console.preview.rule'), h('span#preview-rule', { title: d.rule_id }, clip(p.rule_description || d.rule_id))),
        dl(t('console.preview.policy'), h('span#preview-policy', { title: d.policy }, policyLabel(d.policy) || p.policy_label || d.policy)),
        dl(t('console.preview.accept'), deadline(p.accept_deadline)),
        dl(t('console.preview.reply'), h('span#preview-reply', deadline(p.reply_deadline))),
        d.street ? dl(t('console.street'), (streets.find((s) => s.code === d.street) || {}).name || d.street) : []));
  }

  // ---- similar tickets (the search service; 暂不可用 until it is there) ----
  let similarSeq = 0;
  const loadSimilar = debounce(async () => {
    const seq = ++similarSeq;
    const b = body();
    if (!b.content.trim() && !phoneOk(b.caller_phone)) return;
    const req = { content: b.content, address: b.address, kind: b.kind };
    if (phoneOk(b.caller_phone)) req.phone = b.caller_phone;
    if (leafByCode[b.category]) req.category = b.category;
    try {
      const r = await optional('POST', '/api/v1/tickets/similar', req);
      if (seq !== similarSeq) return;
      if (r === null) { similarBox.replaceChildren(h('p.muted.unavailable', t('common.unavailable.long'))); return; }
      const list = r.suggestions || [];
      mergeable.clear();
      for (const s of list) if (s.mergeable) mergeable.add(s.ticket.id);
      offerMerges();
      // The score explains itself: each reason with what it added.
      const why = (s) => (s.reasons || []).map((x, i) => `${t('reason.' + x, {}, x)} +${Math.round(((s.points || [])[i] || 0) * 100)}%`).join('、');
      similarBox.replaceChildren(list.length ? h('div.list', list.map((s) => h('div.suggestion', { dataset: { number: s.ticket.number, mergeable: String(!!s.mergeable) } },
        h('div.row-head', h('span.number', s.ticket.number), h('span.score', Math.round((s.score || 0) * 100) + '%'),
          clip(why(s), 'reasons')),
        h('div.row-body', clip(s.ticket.content, 'content')),
        s.mergeable ? rowActions({ ...s.ticket, status: s.ticket.status })
          : h('div.row-actions', h('span.muted.small', t('console.similar.showOnly')),
            h('button.small', { type: 'button', onclick: () => openHistory(s.ticket) }, t('common.history')))))) : h('p.muted', t('console.similar.none')));
    } catch (e) {
      similarBox.replaceChildren(h('p.error', errorText(e)));
    }
  }, 500);
  for (const k of ['content', 'address', 'category']) f[k].addEventListener('input', loadSimilar);
  f.category.addEventListener('change', loadSimilar);

  // ---- knowledge base ----
  const searchKb = debounce(async () => {
    const q = kbInput.value.trim();
    if (!q) { kbBox.replaceChildren(); return; }
    try {
      const r = await optional('GET', `/api/v1/kb/articles?q=${encodeURIComponent(q)}`);
      if (r === null) { kbBox.replaceChildren(h('p.muted.unavailable', t('common.unavailable.long'))); return; }
      const list = r.articles || [];
      kbBox.replaceChildren(list.length ? h('div.list', list.map((a) => h('div.article',
        h('b', clip(a.question)), a.expired ? h('span.badge.urgent', t('console.kb.expired')) : null,
        h('p.answer', a.answer),
        h('button.small', { type: 'button', onclick: () => useArticle(a) }, t('console.kb.use'))))) : h('p.muted', t('console.kb.none')));
    } catch (e) {
      kbBox.replaceChildren(h('p.error', errorText(e)));
    }
  }, 300);
  kbInput.addEventListener('input', searchKb);

  function useArticle(a) {
    toggleResolve(true);
    f.answer.value = a.answer;
    articleId = a.id;
    if (!f.content.value.trim()) f.content.value = a.question;
    if (a.category && leafByCode[a.category] && !categoryCode()) categoryBox.set(a.category, false);
    f.answer.focus();
  }

  async function openHistory(tk) {
    const panel = await historyPanel(tk.id);
    const full = await get(`/api/v1/tickets/${tk.id}`).catch(() => tk);
    await dialog(tk.number, [{ name: 'x', label: '', input: h('div.history-wrap', detailCard(full), panel) }], t('common.close'), { cancel: false });
  }

  // ---- ticket search (the search service; 暂不可用 until it is there) ----
  const runSearch = debounce(async () => {
    const q = searchInput.value.trim();
    if (!q) { searchBox.replaceChildren(); return; }
    try {
      const r = await optional('GET', `/api/v1/search?q=${encodeURIComponent(q)}&limit=50`);
      if (r === null) { searchBox.replaceChildren(h('p.muted.unavailable', t('common.unavailable.long'))); return; }
      const hits = r.hits || [];
      searchBox.replaceChildren(h('p.muted', t(r.total_estimated ? 'console.search.about' : 'console.search.total', { n: r.total ?? hits.length })),
        h('div.list', hits.map((hit) => h('div.ticket-row', { dataset: { id: hit.id, number: hit.number } },
          h('div.row-head', h('span.number', hit.number), h('span.badge.status-' + hit.status, t('status.' + hit.status, {}, hit.status_label)),
            clip(deptName(hit.lead_department), 'dept'), h('span.muted', fmtInstant(hit.created_at))),
          h('div.row-body', clip(hit.snippet || hit.content, 'content')),
          h('div.row-actions', h('button.small', { type: 'button', onclick: () => openHistory(hit) }, t('common.history')))))));
    } catch (e) {
      searchBox.replaceChildren(h('p.error', errorText(e)));
    }
  }, 300);
  searchInput.addEventListener('input', runSearch);

  // ---- queues, kept live ----
  function renderQueues(view) {
    const manual = view.manual_dispatch || [];
    const callbacks = view.callbacks || [];
    counts.manual.textContent = manual.length ? String(manual.length) : '';
    counts.callbacks.textContent = callbacks.length ? String(callbacks.length) : '';
    manualBox.replaceChildren(manual.length ? h('div.list', manual.map((tk) => ticketRow(tk, h('div.row-actions',
      h('button.small.primary', { type: 'button', onclick: () => dispatchDialog(tk) }, t('console.dispatch')),
      h('button.small', { type: 'button', onclick: () => openHistory(tk) }, t('common.history'))))))
      : h('p.muted', t('console.manual.empty')));
    callbackBox.replaceChildren(callbacks.length ? h('div.list', callbacks.map(callbackRow)) : h('p.muted', t('console.cb.empty')));
  }

  async function dispatchDialog(tk) {
    let suggestion = { lead: '', policy: '' };
    try {
      const p = await post('/api/v1/dispatch/preview', { kind: tk.kind, category: tk.category, address: tk.address,
        content: tk.content, channel: tk.channel, urgency: tk.urgency });
      if (p.decision && p.decision.outcome === 'routed') suggestion = { lead: p.decision.lead, policy: p.decision.policy };
    } catch (_) { /* no suggestion */ }
    const values = await assignDialog({ title: `${t('console.dispatch')} ${tk.number}`, submit: t('console.dispatch'),
      departments: depts, lead: suggestion.lead, policy: suggestion.policy || (tk.urgency === 'urgent' ? 'urgent' : '') });
    if (!values) return;
    try {
      await post(`/api/v1/tickets/${tk.id}/dispatch`, values);
      toast(t('console.dispatched', { n: tk.number, d: deptName(values.lead) }), 'ok');
    } catch (e) {
      toast(errorText(e), 'error');
    }
  }

  function callbackRow(tk) {
    const cb = tk.callback || {};
    const me = (session.user || {}).username;
    const claimedByOther = cb.claimed_by && cb.claimed_by !== me && cb.claimed_until && Date.parse(cb.claimed_until) > Date.now() - 1;
    const mine = cb.claimed_by && cb.claimed_by === me;
    return h('div.ticket-row.callback', { dataset: { id: tk.id, number: tk.number } },
      h('div.row-head', h('span.number', tk.number), h('span', deptName(tk.lead)),
        h('span.muted', t('console.cb.from') + ' ' + fmtInstant(cb.next_call_at)),
        claimedByOther ? h('span.badge', t('console.cb.claimedBy', { u: cb.claimed_by })) : null,
        h('span.muted', [tk.caller_name, tk.caller_phone].filter(Boolean).join(' '))),
      h('div.row-body.cb-complaint', clip(t('console.cb.asked') + '：' + (tk.content || ''), 'content')),
      h('div.row-body', clip(t('console.cb.reply') + '：' + (tk.reply || ''), 'content')),
      h('div.row-actions',
        mine ? null : h('button.small.claim', { type: 'button', disabled: claimedByOther, onclick: () => claim(tk) }, t('console.cb.claim')),
        mine ? h('button.small.primary.record', { type: 'button', onclick: () => record(tk) }, t('console.cb.record')) : null,
        h('button.small', { type: 'button', onclick: () => openHistory(tk) }, t('common.history'))));
  }

  async function claim(tk) {
    try {
      await post(`/api/v1/tickets/${tk.id}/claim-callback`);
      await refresh();
      record(tk);
    } catch (e) {
      toast(errorText(e), 'error');
    }
  }

  async function record(tk) {
    const opt = (prefix, words) => words.map((w) => h('option', { value: w }, t(prefix + '.' + w)));
    const reached = h('input', { type: 'checkbox', checked: true, name: 'reached' });
    const failure = h('select', { name: 'failure' }, opt('failure', ['no_answer', 'busy', 'wrong_number']));
    const solved = h('select', { name: 'solved' }, opt('solved', ['yes', 'partly', 'no']));
    const satisfaction = h('select', { name: 'satisfaction' }, opt('satisfaction', ['satisfied', 'basically_satisfied', 'dissatisfied']));
    const comment = h('input', { name: 'comment' });
    // Reached: how it went; not reached: why. Only the fields that apply are shown.
    const applies = () => {
      for (const el of [solved, satisfaction]) el.closest('label').hidden = !reached.checked;
      failure.closest('label').hidden = reached.checked;
    };
    reached.addEventListener('change', applies);
    setTimeout(applies);
    const values = await dialog(`${t('console.cb.record')} ${tk.number}`, [
      { name: 'reached', label: t('console.cb.reached'), input: reached },
      { name: 'solved', label: t('console.cb.solved'), input: solved },
      { name: 'satisfaction', label: t('console.cb.satisfaction'), input: satisfaction },
      { name: 'failure', label: t('console.cb.failure'), input: failure },
      { name: 'comment', label: t('console.cb.comment'), input: comment }], t('console.cb.record'));
    if (!values) return;
    const b = values.reached
      ? { reached: true, solved: values.solved, satisfaction: values.satisfaction, comment: values.comment || null }
      : { reached: false, failure: values.failure, comment: values.comment || null };
    try {
      await post(`/api/v1/tickets/${tk.id}/callback`, b);
      toast(t('console.cb.done', { n: tk.number }), 'ok');
      await refresh();
    } catch (e) {
      toast(errorText(e), 'error');
    }
  }

  async function refresh() {
    try { renderQueues(await get('/api/v1/dashboard/operator')); } catch (e) { toast(errorText(e), 'error'); }
  }
  await refresh();
  live(['operator'], (msg) => {
    if (msg.type === 'view' && msg.view === 'operator') renderQueues(msg.data);
    cti.message(msg);
  }, liveState);
  f.phone.focus();
}
