// 坐席 (the telephone side): the operator's seat bar with the screen-pop on the console, and
// the seat monitor (坐席监控) with today's call figures on the wall. Everything arrives over
// the live socket (`screen_pop`, `seat` messages); the pages only hand the messages over.

import { t } from './i18n.js';
import { get, post } from './api.js';
import { h, toast, errorText, fmtInstant, serverNow } from './dom.js';

const STATES = ['idle', 'ringing', 'on_call', 'wrap_up', 'break', 'signed_out'];

function stateBadge(state) {
  return h('span.badge.seat-' + state, t('seat.state.' + state));
}

/**
 * The console's seat bar: sign in at an extension (坐席签入), break (小休), ready (置闲), sign
 * out; and the screen-pop when the phone rings. `onPop(pop)` fills the call form.
 * Returns { element, pop(msg), callId(), clear() }.
 */
export function seatBar({ onPop }) {
  const ext = h('input#seat-extension', { inputmode: 'numeric', size: 6, maxlength: 10, placeholder: t('seat.extension') });
  const state = h('span#seat-state');
  const buttons = h('span.seat-actions');
  const popBox = h('div.screen-pop#screen-pop', { hidden: true, role: 'alert' });
  const missedCount = h('span.count');
  const missedBox = h('div.missed-list#missed-list', { hidden: true });
  const missedBtn = h('button.small#missed-toggle', { type: 'button', onclick: () => {
    missedBox.hidden = !missedBox.hidden;
    if (!missedBox.hidden) loadMissed();
  } }, t('seat.missed'), missedCount);
  const element = h('div.card.seat-bar#seat-bar', h('strong', t('seat.title')), ' ', state, ' ', buttons, missedBtn,
    popBox, missedBox);
  let current = null;
  let callId = null;

  function render(seat) {
    current = seat && seat.state !== 'signed_out' ? seat : null;
    state.replaceChildren(current
      ? h('span', t('seat.at', { e: current.extension }), ' ', stateBadge(current.state))
      : stateBadge('signed_out'));
    const act = (label, path) => h('button.small', { type: 'button', onclick: () => change(path) }, t(label));
    if (!current) {
      buttons.replaceChildren(ext, h('button.small#seat-sign-in', { type: 'button', onclick: signIn }, t('seat.signIn')));
    } else if (current.state === 'break') {
      buttons.replaceChildren(act('seat.ready', 'ready'), act('seat.signOut', 'sign-out'));
    } else if (current.state === 'wrap_up') {
      buttons.replaceChildren(act('seat.ready', 'ready'), act('seat.break', 'break'), act('seat.signOut', 'sign-out'));
    } else {
      buttons.replaceChildren(act('seat.break', 'break'), act('seat.signOut', 'sign-out'));
    }
  }

  async function signIn() {
    try { render(await post('/api/v1/cti/seat/sign-in', { extension: ext.value.trim() })); } catch (e) { toast(errorText(e), 'error'); }
  }
  async function change(path) {
    try { render(await post(`/api/v1/cti/seat/${path}`, {})); } catch (e) { toast(errorText(e), 'error'); }
  }

  function showPop(pop) {
    callId = pop.call_id;
    const badges = [];
    if (pop.repeat_24h) badges.push(h('span.badge.repeat#pop-repeat', t('seat.pop.repeat')));
    if (pop.confidential) badges.push(h('span.badge.confidential#pop-confidential', t('seat.pop.confidential')));
    popBox.replaceChildren(
      h('p', h('strong', t('seat.pop.ringing')), ' ', h('span.number#pop-caller', pop.caller || t('seat.pop.withheld')),
        ' ', ...badges, ' ', h('span.muted', pop.rang_at ? fmtInstant(pop.rang_at) : '')),
      h('p.muted', t('seat.pop.history', { n: pop.tickets.length, o: pop.open_tickets.length }),
        pop.open_tickets.length ? ' · ' + pop.open_tickets.map((r) => r.number).join('、') : ''),
      h('button.small', { type: 'button', onclick: () => { popBox.hidden = true; } }, t('common.close')));
    popBox.hidden = false;
    onPop && onPop(pop);
  }

  // 漏接回拨: claim a number, call it, record what happened (like the callback queue).
  async function loadMissed() {
    try {
      const { missed } = await get('/api/v1/cti/missed');
      missedCount.textContent = missed.length ? String(missed.length) : '';
      if (missedBox.hidden) return;
      missedBox.replaceChildren(missed.length ? h('div.list', missed.map(missedRow)) : h('p.muted', t('seat.missed.none')));
    } catch (_) {
      missedCount.textContent = '';
    }
  }
  function missedRow(m) {
    const me = m.claimed_by && m.claimed_until && new Date(m.claimed_until) > serverNow();
    const act = (outcome) => h('button.small', { type: 'button', onclick: () => outcomeOf(m, outcome) }, t('seat.missed.' + outcome));
    return h('div.row.missed-row', { 'data-caller': m.caller },
      h('span.number', m.caller), ' ',
      h('span.muted', t('seat.missed.line', { n: m.calls, w: m.longest_wait_secs, d: m.calls_today, a: m.attempts })), ' ',
      h('span.muted', fmtInstant(m.last_at)), ' ',
      me ? h('span', act('reached'), act('no_answer'), act('busy'), act('wrong_number'))
        : h('button.small', { type: 'button', onclick: () => claimMissed(m) }, t('seat.missed.claim')),
      m.claimed_by ? h('span.muted', ' ' + m.claimed_by) : null);
  }
  async function claimMissed(m) {
    try { await post(`/api/v1/cti/missed/${m.id}/claim`, {}); } catch (e) { toast(errorText(e), 'error'); }
    loadMissed();
  }
  async function outcomeOf(m, outcome) {
    try { await post(`/api/v1/cti/missed/${m.id}/outcome`, { outcome }); } catch (e) { toast(errorText(e), 'error'); }
    loadMissed();
  }
  loadMissed();
  setInterval(loadMissed, 30000);

  get('/api/v1/cti/seat').then((r) => render(r.seat)).catch(() => render(null));
  return {
    element,
    /** A live message: a screen-pop for this operator. */
    message(msg) {
      if (msg.type !== 'screen_pop') return;
      // A console that reconnects hears of rings already over: those do not pop.
      if (msg.pop.outcome && !['queued', 'ringing', 'talking'].includes(msg.pop.outcome)) return;
      showPop(msg.pop);
      get('/api/v1/cti/seat').then((r) => render(r.seat)).catch(() => {});
    },
    callId: () => callId,
    clear() { callId = null; popBox.hidden = true; },
  };
}

/**
 * The wall's seat monitor (坐席监控): one tile per seat, its state and since when, kept live
 * by `seat` messages; and today's call figures (refreshed every 30 s).
 */
export function seatBoard() {
  const tiles = h('div.seat-tiles#seat-tiles');
  const counts = h('p.seat-counts#seat-counts');
  const figures = h('div.call-figures#call-figures');
  const element = h('section.card.seat-board#seat-board', h('h3', t('seat.board')), counts, tiles, figures);
  const seats = new Map();

  function render() {
    const now = serverNow();
    const list = [...seats.values()].filter((s) => s.state !== 'signed_out')
      .map((s) => (s.state === 'wrap_up' && s.wrap_until && new Date(s.wrap_until) <= now ? { ...s, state: 'idle' } : s))
      .sort((a, b) => a.extension.localeCompare(b.extension));
    const n = Object.fromEntries(STATES.map((k) => [k, list.filter((s) => s.state === k).length]));
    counts.replaceChildren(...STATES.filter((k) => k !== 'signed_out').map((k) => h('span.seat-count', stateBadge(k), ' ', String(n[k]))));
    tiles.replaceChildren(...(list.length ? list.map((s) => h('div.seat-tile.seat-' + s.state, { 'data-extension': s.extension },
      h('strong', s.extension), ' ', h('span', s.display_name || s.username || ''), h('br'), stateBadge(s.state),
      s.caller && ['ringing', 'on_call'].includes(s.state) ? h('span.muted', ' ' + s.caller) : null,
      h('span.muted.since', ' ' + fmtInstant(s.since)))) : [h('p.muted', t('seat.none'))]));
  }

  async function loadFigures() {
    try {
      const s = await get('/api/v1/cti/stats');
      const f = s.total;
      const pct = (x) => (x === null || x === undefined ? '—' : (x * 100).toFixed(1) + '%');
      const secs = (x) => (x === null || x === undefined ? '—' : x.toFixed(1) + 's');
      figures.replaceChildren(h('table.figures',
        h('tr', ...['offered', 'answered', 'abandoned', 'within15', 'answerRate', 'wait', 'talk', 'handling'].map((k) => h('th', t('seat.fig.' + k)))),
        h('tr', h('td', String(f.offered)), h('td', String(f.answered)), h('td', String(f.abandoned)),
          h('td#fig-within15', pct(f.within_15s_rate)), h('td', pct(f.answer_rate)), h('td', secs(f.average_wait_secs)),
          h('td', secs(f.average_talk_secs)), h('td', secs(f.average_handling_secs)))));
    } catch (e) {
      figures.replaceChildren(h('p.muted', errorText(e)));
    }
  }

  get('/api/v1/cti/seats').then((r) => { for (const s of r.seats) seats.set(s.extension, s); render(); })
    .catch(() => tiles.replaceChildren(h('p.muted', t('common.unavailable'))));
  loadFigures();
  setInterval(loadFigures, 30000);
  // Wrap-up ends by itself: re-read the tiles every few seconds.
  setInterval(render, 5000);
  return {
    element,
    message(msg) {
      if (msg.type !== 'seat') return;
      seats.set(msg.seat.extension, msg.seat);
      render();
    },
  };
}

/** The calls a ticket was logged during, each with its recording (来电录音); null when none or not allowed. */
export async function callsPanel(ticketId) {
  try {
    const { calls } = await get(`/api/v1/tickets/${ticketId}/calls`);
    if (!calls.length) return null;
    return h('div.ticket-calls#ticket-calls', h('h4', t('seat.calls')), calls.map((c) => h('p.ticket-call', { 'data-call': c.call_id },
      h('span', fmtInstant(c.started_at)), ' ', h('span.number', c.caller || ''), ' ',
      h('span.muted', t('seat.call.line', { w: c.wait_secs ?? '—', s: c.talk_secs ?? '—' })), ' ',
      c.recording_url ? h('a.recording', { href: c.recording_url, target: '_blank', rel: 'noopener' }, t('seat.recording'))
        : h('span.muted', t('seat.noRecording')))));
  } catch (_) {
    return null;
  }
}
