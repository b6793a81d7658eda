// 承办: the department's live queue with each ticket's clocks counting down, and what the
// department does with a ticket — accept, return, ask for time or a pause, pass down,
// reply — with the ticket's full history beside it. Opened from a mail's link
// (/tickets/{number}) it shows that ticket, selected in the queue when it is there.
import { t } from './i18n.js';
import { get, post, live, session } from './api.js';
import { h, toast, errorText, dialog, debounce } from './dom.js';
import { departmentNames, ticketRow, historyPanel, detailCard, linkedTicket, missingNote } from './tickets.js';
import { liveState } from './app.js';
import { picker, departmentChoices } from './picker.js';

/** Which actions a status offers (the server decides for good: a refusal is shown). */
const ACTIONS = {
  dispatched: ['accept', 'return', 'passDown'],
  accepted: ['reply', 'contact', 'extension', 'suspension', 'passDown', 'return'],
  suspended: ['resume'],
};

export async function mount(main, { number } = {}) {
  const { list: depts } = await departmentNames();
  const me = session.user || {};
  const subUnits = depts.filter((d) => d.parent && (me.units || []).includes(d.code) && d.code !== me.department);
  let queue = [];
  let selected = null;

  const listBox = h('div.list#queue');
  const detailBox = h('div#detail', h('p.muted', t('workbench.select')));
  // The queue found, narrowed and ordered: words of the number, content, category or address;
  // which tickets; most urgent first (the default), newest or oldest.
  const find = h('input#queue-q', { type: 'search', placeholder: t('workbench.find'), 'aria-label': t('workbench.find') });
  const show = h('select#queue-filter', { 'aria-label': t('workbench.filter') },
    ['all', 'dispatched', 'accepted', 'overdue', 'pending', 'suspended'].map((k) => h('option', { value: k }, t('workbench.filter.' + k))));
  const order = h('select#queue-sort', { 'aria-label': t('workbench.sort') },
    ['due', 'newest', 'oldest'].map((k) => h('option', { value: k }, t('workbench.sort.' + k))));
  for (const el of [find, show, order]) el.addEventListener(el === find ? 'input' : 'change', () => render());
  main.append(h('div.workbench',
    h('section.card.queue-card', h('h3', t('workbench.queue'), h('span.count#queue-count')),
      h('div.toolbar.queue-tools', find, show, order), listBox),
    h('section.card.detail-card', detailBox)));

  const dueOf = (tk) => Math.min(...(tk.clock_views || []).filter((c) => c.state !== 'stopped' && c.deadline)
    .map((c) => Date.parse(c.deadline.at)), Infinity);
  function visible() {
    const words = find.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const now = Date.now();
    const kept = queue.filter((tk) => {
      const hay = [tk.number, tk.content, tk.category_path, tk.address].join(' ').toLowerCase();
      if (!words.every((w) => hay.includes(w))) return false;
      switch (show.value) {
        case 'dispatched': case 'accepted': case 'suspended': return tk.status === show.value;
        case 'overdue': return tk.overdue || dueOf(tk) < now;
        case 'pending': return !!(tk.pending_extension || tk.pending_suspension || tk.return_request);
        default: return true;
      }
    });
    const created = (tk) => Date.parse(tk.created_at);
    if (order.value === 'newest') kept.sort((a, b) => created(b) - created(a));
    else if (order.value === 'oldest') kept.sort((a, b) => created(a) - created(b));
    else kept.sort((a, b) => dueOf(a) - dueOf(b));
    return kept;
  }

  function render() {
    const shown = visible();
    main.querySelector('#queue-count').textContent = shown.length === queue.length ? String(queue.length) : `${shown.length}/${queue.length}`;
    listBox.replaceChildren(...(shown.length ? shown.map((tk) => {
      const row = ticketRow(tk, tk.pending_extension || tk.pending_suspension || tk.return_request
        ? h('span.badge', t('workbench.pending', { w: pendingWhat(tk) })) : null);
      row.tabIndex = 0;
      row.classList.toggle('selected', selected === tk.id);
      row.addEventListener('click', () => select(tk.id));
      row.addEventListener('keydown', (e) => { if (e.key === 'Enter') select(tk.id); });
      return row;
    }) : [h('p.muted', t(queue.length ? 'workbench.noMatch' : 'workbench.empty'))]));
  }

  function pendingWhat(tk) {
    if (tk.return_request) return t('wall.what.return');
    if (tk.pending_extension) return t('wall.what.extension');
    return t('wall.what.suspension');
  }

  function clearDetail() {
    delete detailBox.dataset.ticket;
    delete detailBox.dataset.number;
    detailBox.replaceChildren(h('p.muted', t('workbench.select')));
  }

  async function select(id) {
    selected = id;
    render();
    // Another ticket's buttons must not stay clickable while this one loads: a click there
    // would act on the ticket shown, not the one just picked.
    if (detailBox.dataset.ticket !== String(id)) {
      delete detailBox.dataset.ticket;
      delete detailBox.dataset.number;
      detailBox.replaceChildren(h('p.muted', t('common.loading')));
    }
    let ticket;
    try {
      ticket = await get(`/api/v1/tickets/${id}`);
    } catch (e) {
      if (selected === id) detailBox.replaceChildren(h('p.error', errorText(e)));
      return;
    }
    const mine = (code) => (me.units || []).includes(code);
    // An assisting unit answers the lead (协办回复); only the lead's units act on the ticket itself.
    const assisting = !mine(ticket.lead) && (ticket.assists || []).some((a) => mine(a.department) && !a.replied_at && !a.waived);
    const actions = assisting ? ['assistReply']
      : (ACTIONS[ticket.status] || []).filter((a) => a !== 'passDown' || subUnits.length);
    const history = await historyPanel(id);
    if (selected !== id) return; // another ticket was picked meanwhile
    detailBox.dataset.ticket = String(id);
    detailBox.dataset.number = ticket.number;
    detailBox.replaceChildren(
      detailCard(ticket),
      h('div.actions#actions', actions.map((a) => h('button#act-' + a, {
        type: 'button', class: a === 'accept' || a === 'reply' ? 'primary' : '', onclick: () => act(ticket, a),
      }, t('workbench.' + a)))),
      h('h4', t('common.history')), history);
  }

  async function act(ticket, action) {
    const reason = () => ({ name: 'reason', label: t('common.reason'), input: h('textarea', { rows: 3, required: true }) });
    let path;
    let body = {};
    switch (action) {
      case 'accept': path = 'accept'; break;
      case 'resume': path = 'resume'; break;
      case 'contact': path = 'contact'; body = { note: null }; break;
      case 'return': {
        const v = await dialog(t('workbench.return'), [reason()], t('workbench.return'));
        if (!v) return;
        path = 'return'; body = { reason: v.reason }; break;
      }
      case 'suspension': {
        const v = await dialog(t('workbench.suspension'), [reason()], t('workbench.suspension'));
        if (!v) return;
        path = 'request-suspension'; body = { reason: v.reason }; break;
      }
      case 'extension': {
        const v = await dialog(t('workbench.extension'), [reason(),
          { name: 'extra', label: t('workbench.extra'), input: h('input', { value: '3wd', required: true }) }], t('workbench.extension'));
        if (!v) return;
        path = 'request-extension'; body = { reason: v.reason, extra: v.extra.trim() }; break;
      }
      case 'passDown': {
        // The sub-unit by its name in the same search box as everywhere a unit is chosen.
        // Not `required`: the browser's own bubble would speak its language, the check below the page's.
        const to = picker({ id: 'pass-down-to', name: 'to', items: departmentChoices(subUnits),
          placeholder: t('picker.unit.hint'), label: t('workbench.to') });
        const v = await dialog(t('workbench.passDown'), [
          { name: 'to', label: t('workbench.to'), input: to, check: (code) => (code ? null : t('msg.unit')) },
          { name: 'note', label: t('common.note'), input: h('input') }], t('workbench.passDown'));
        if (!v) return;
        path = 'pass-down'; body = { to: v.to, note: v.note || null }; break;
      }
      case 'reply': {
        const v = await dialog(t('workbench.reply'), [
          { name: 'outcome', label: t('workbench.outcome'), input: h('select#reply-outcome',
            ['solved', 'explained', 'unsolvable'].map((o) => h('option', { value: o }, t('outcome.' + o)))) },
          { name: 'text', label: t('workbench.text'), input: h('textarea#reply-text', { rows: 5, required: true }) }], t('workbench.reply'));
        if (!v) return;
        path = 'reply'; body = { outcome: v.outcome, text: v.text }; break;
      }
      case 'assistReply': {
        const v = await dialog(t('workbench.assistReply'), [
          { name: 'text', label: t('workbench.text'), input: h('textarea', { rows: 4, required: true }) }], t('workbench.assistReply'));
        if (!v) return;
        path = 'assist-reply'; body = { text: v.text }; break;
      }
      default: return;
    }
    try {
      await post(`/api/v1/tickets/${ticket.id}/${path}`, body);
      toast(t('workbench.done', { n: ticket.number, a: t('workbench.' + action) }), 'ok');
      await refresh();
      if (queue.some((q) => q.id === ticket.id)) {
        await select(ticket.id);
      } else {
        selected = null;
        clearDetail();
      }
    } catch (e) {
      toast(errorText(e), 'error');
    }
  }

  function take(view) {
    queue = view.queue || [];
    render();
  }
  async function refresh() {
    try { take(await get('/api/v1/dashboard/department')); } catch (e) { toast(errorText(e), 'error'); }
  }
  await refresh();
  if (number) {
    showLinked(number);
  } else if (queue.length) {
    select(queue[0].id);
  }

  // A ticket no longer in the queue (replied, closed) is still shown, with what it offers now.
  async function showLinked(n) {
    const queued = queue.find((q) => q.number === n);
    if (queued) { await select(queued.id); return; }
    let ticket;
    try {
      ticket = await linkedTicket(n);
    } catch (e) {
      detailBox.replaceChildren(h('p.error', errorText(e)));
      return;
    }
    if (ticket) await select(ticket.id);
    else detailBox.replaceChildren(missingNote());
  }
  // Someone else changed the ticket on screen (urged, decided, reassigned): show it as it is now.
  const reloadSelected = debounce(() => { if (selected !== null && !document.querySelector('dialog[open]')) select(selected); }, 300);
  live(['department'], (msg) => {
    if (msg.type === 'view' && msg.view === 'department') take(msg.data);
    if (msg.type === 'event' && msg.ticket_id === selected) reloadSelected();
    if (msg.type === 'gone' && msg.ticket_id === selected) {
      selected = null;
      clearDetail();
    }
  }, liveState);
}
