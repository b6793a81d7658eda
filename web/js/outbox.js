// 发送队列 (admins): the mail and text outboxes as GET /api/v1/admin/mail and /admin/sms report
// them — counts by state, when the oldest waiting entry was queued, and the entries waiting
// and given up on (recipient masked by the server, what each was for, attempts, the last
// error, the next try) with 重试 on each failed one, which puts it back in the queue
// (POST …/{id}/retry). Sent entries are counted, not listed. Refreshed every 10 s.
import { t } from './i18n.js';
import { get, post } from './api.js';
import { h, clip, toast, errorText, fmtInstant } from './dom.js';

const REFRESH_MS = 10000;

// Each outbox: where it is read and retried, the states it counts (in the API's names), and
// how an entry names what it was about.
const BOXES = {
  mail: {
    path: '/api/v1/admin/mail',
    counts: ['pending', 'sent', 'failed'],
    about: (e) => e.subject,
  },
  sms: {
    path: '/api/v1/admin/sms',
    counts: ['pending', 'sent', 'delivered', 'failed'],
    about: (e) => e.body,
  },
};

/** The API's sentence as well as the page's words for it: an admin reads both. */
function failureText(e, words = errorText(e)) {
  const message = e && e.body && e.body.message;
  return message && !words.includes(message) ? `${words}（${message}）` : words;
}

export async function mount(main) {
  const numbers = new Map(); // ticket id → its number (a promise), read once
  const ticketNumber = (id) => {
    if (!numbers.has(id)) numbers.set(id, get(`/api/v1/tickets/${id}`).then((tk) => tk.number, () => null));
    return numbers.get(id);
  };

  const panels = {};
  const tabs = h('div.tabs', { role: 'tablist', 'aria-label': t('outbox.title') });
  for (const which of Object.keys(BOXES)) {
    const tab = h(`button.tab#outbox-tab-${which}`, {
      type: 'button', role: 'tab', 'aria-controls': `outbox-${which}`,
      onclick: () => show(which),
      onkeydown: (ev) => {
        if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
        const other = which === 'mail' ? 'sms' : 'mail';
        show(other);
        document.getElementById(`outbox-tab-${other}`).focus();
      },
    }, t(`outbox.tab.${which}`), h('span.count', { id: `outbox-tab-${which}-failed` }));
    tabs.append(tab);
    panels[which] = panel(which);
  }
  const refresh = h('button#outbox-refresh', { type: 'button', onclick: () => loadAll(true) }, t('common.refresh'));
  main.append(h('section.card.outbox-page',
    h('div.toolbar', h('h3', t('outbox.title')), h('span.spacer'), refresh),
    h('p.muted', t('outbox.intro')),
    tabs, ...Object.values(panels).map((p) => p.element)));

  function show(which) {
    for (const [k, p] of Object.entries(panels)) {
      p.element.hidden = k !== which;
      const tab = document.getElementById(`outbox-tab-${k}`);
      tab.classList.toggle('active', k === which);
      tab.setAttribute('aria-selected', String(k === which));
      tab.tabIndex = k === which ? 0 : -1;
    }
  }

  function panel(which) {
    const box = BOXES[which];
    const counts = h(`div.outbox-counts#outbox-${which}-counts`, { role: 'status' });
    const stateFilter = h(`select#outbox-${which}-state`, { 'aria-label': t('outbox.filter.state') },
      ['', 'failed', 'pending'].map((k) => h('option', { value: k }, t(k ? `outbox.state.${k}` : 'outbox.filter.all'))));
    const kindFilter = h(`select#outbox-${which}-filter`, { 'aria-label': t('outbox.filter') },
      h('option', { value: '' }, t('outbox.filter.all')));
    const list = h(`div.outbox-list#outbox-${which}-list`, h('p.muted', t('common.loading')));
    const error = h(`p.error#outbox-${which}-error`, { role: 'alert', hidden: true });
    const element = h(`div.outbox-panel#outbox-${which}`, { role: 'tabpanel', 'aria-labelledby': `outbox-tab-${which}` },
      counts, error,
      h('div.toolbar', h('h4', t('outbox.entries')),
        h('label.inline', h('span', t('outbox.filter.state')), stateFilter),
        h('label.inline', h('span', t('outbox.filter')), kindFilter)),
      list);
    let status = null;
    for (const f of [stateFilter, kindFilter]) f.addEventListener('change', () => status && render(status));

    // An error stays until the admin acts again (the refresh every 10 s keeps it).
    async function load(clear) {
      try {
        render(await get(box.path));
        if (clear) error.hidden = true;
      } catch (e) {
        error.textContent = failureText(e);
        error.hidden = false;
      }
    }

    async function retry(entry, button) {
      button.disabled = true;
      try {
        render(await post(`${box.path}/${entry.id}/retry`));
        error.hidden = true;
        toast(t('outbox.retried', { r: entry.recipient }), 'ok');
      } catch (e) {
        // Someone else may have retried it meanwhile: show the outbox as it is now, and why
        // this did not work.
        await load(false);
        error.textContent = failureText(e, e.status === 404 ? t('outbox.retry.gone') : undefined);
        error.hidden = false;
      }
      // The row is drawn anew: the keyboard goes on from the panel's tab.
      if (!document.body.contains(button)) document.getElementById(`outbox-tab-${which}`).focus();
      else button.disabled = false;
    }

    function render(s) {
      status = s;
      counts.replaceChildren(
        ...box.counts.map((k) => h(`div.figure.state-${k}`, { dataset: { state: k } },
          h('b', { id: `outbox-${which}-${k}` }, String(s[k] ?? 0)), h('span', t(`outbox.state.${k}`)))),
        h('div.figure.oldest', h('b', { id: `outbox-${which}-oldest` },
          s.oldest_pending_at ? fmtInstant(s.oldest_pending_at) : '—'),
        h('span', t('outbox.oldest'))));
      document.getElementById(`outbox-tab-${which}-failed`).textContent = s.failed ? String(s.failed) : '';

      // Failed first (they need someone), then waiting, the next due first.
      const entries = [...s.failures.map((e) => ({ ...e, state: 'failed' })), ...(s.waiting || []).map((e) => ({ ...e, state: 'pending' }))];
      // The purpose filter offers the kinds present, keeping the one chosen.
      const chosen = kindFilter.value;
      const kinds = [...new Set(entries.map((e) => e.kind))];
      kindFilter.replaceChildren(h('option', { value: '' }, t('outbox.filter.all')),
        ...kinds.map((k) => h('option', { value: k }, kindLabel(which, k))));
      kindFilter.value = kinds.includes(chosen) ? chosen : '';
      const shown = entries.filter((e) => (!stateFilter.value || e.state === stateFilter.value)
        && (!kindFilter.value || e.kind === kindFilter.value));
      if (!shown.length) {
        list.replaceChildren(h('p.muted.outbox-empty', t(entries.length ? 'outbox.noMatch' : 'outbox.none')));
        return;
      }
      list.replaceChildren(h('table.outbox-table',
        h('thead', h('tr', ...['state', 'recipient', 'about', 'attempts', 'error', 'when', 'actions']
          .map((k) => h('th', { class: 'col-' + k, scope: 'col' }, t('outbox.col.' + k))))),
        h('tbody', shown.map(row))));
    }

    function row(e) {
      const ticket = h('span.ticket');
      if (e.ticket_id != null) {
        ticketNumber(e.ticket_id).then((n) => {
          ticket.replaceChildren(n ? h('a.ticket-link', { href: `/tickets/${encodeURIComponent(n)}` }, n) : `#${e.ticket_id}`, ' ');
        });
      }
      const failed = e.state === 'failed';
      const button = failed ? h('button.small.outbox-retry', { type: 'button', dataset: { id: e.id },
        'aria-label': `${t('outbox.retry')} ${e.recipient}` }, t('outbox.retry')) : null;
      if (button) button.addEventListener('click', () => retry(e, button));
      const when = failed ? e.failed_at : e.next_attempt_at;
      return h(`tr.outbox-row.state-${e.state}`, { dataset: { id: e.id, kind: e.kind, state: e.state } },
        h('td.col-state', h(`span.badge.outbox-${e.state}`, t(`outbox.state.${e.state}`))),
        h('td.col-recipient', e.recipient),
        h('td.col-about', h('span.badge', kindLabel(which, e.kind)), ' ', ticket, clip(box.about(e))),
        h('td.col-attempts', String(e.attempts)),
        h('td.col-error', e.last_error || ''),
        h('td.col-when', when ? t(failed ? 'outbox.failedAt' : 'outbox.nextTry', { at: fmtInstant(when) }) : ''),
        h('td.col-actions', button));
    }

    return { element, load };
  }

  function kindLabel(which, kind) {
    return t(`outbox.kind.${which}.${kind}`, {}, kind);
  }

  async function loadAll(clear) {
    await Promise.all(Object.values(panels).map((p) => p.load(clear)));
  }

  show('mail');
  await loadAll(true);
  const timer = setInterval(() => {
    if (!document.body.contains(main) || document.body.dataset.page !== 'outbox') { clearInterval(timer); return; }
    if (!document.hidden) loadAll(false);
  }, REFRESH_MS);
}
