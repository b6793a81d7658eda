// 督办: the supervisor's wall screen, live over the websocket — counts, overdue and near-due
// lists with urge / supervise, decisions awaiting (returns, extensions, suspensions),
// department ranking and intake by hour (ECharts), the street grid of hot spots with a banner
// when the server raises one (未诉先办 热点预警, pushed over the socket) — and the monthly
// assessment with its CSV.
import { t } from './i18n.js';
import { get, post, optional, live, session } from './api.js';
import { h, clip, toast, errorText, dialog, fmtInstant, fmtLeft, clockClass, serverNow, limitText } from './dom.js';
import { departmentNames, deptName, historyPanel, detailCard } from './tickets.js';
import { liveState } from './app.js';
import { assignDialog } from './assign.js';
import { seatBoard } from './seats.js';
import { accuracyPanel } from './suggest.js';

function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/assets/vendor/echarts.min.js';
    s.onload = () => resolve(window.echarts);
    s.onerror = reject;
    document.head.append(s);
  });
}

export async function mount(main) {
  const { list: depts } = await departmentNames();
  const tiles = h('div.tiles#tiles');
  const overdueBox = h('div.duelist#overdue');
  const nearBox = h('div.duelist#near-due');
  const decisionsBox = h('div.duelist#decisions');
  const intakeChart = h('div.chart#intake-chart');
  const rankChart = h('div.chart#rank-chart');
  const streetGrid = h('div.street-grid#street-grid');
  const alertsBox = h('div#hotspot-alerts');
  const banner = h('div.hotspot-banner#hotspot-banner', { role: 'alert', hidden: true });
  const card = (id, title, ...body) => h('section.card#' + id, h('h3', title, h('span.count')), ...body);
  const month = h("input#month", { type: "month", value: thisMonth() });
  const assessmentBox = h('div#assessment-table');
  const seats = seatBoard();
  // Two views, so the live one fits a wall screen with no scrollbar: 实时 (counts, lists,
  // charts, streets) and 月度考评 (the assessment table), switched by the buttons or Alt+1/2.
  const viewLive = h('button.small#view-live', { type: 'button', onclick: () => showView('live') }, t('wall.view.live'), h('kbd', 'Alt+1'));
  const viewAssessment = h('button.small#view-assessment', { type: 'button', onclick: () => showView('assessment') }, t('wall.assessment'), h('kbd', 'Alt+2'));
  const wall = h('div.wall.live-view',
    banner,
    h('div.wall-views', viewLive, viewAssessment),
    tiles,
    seats.element,
    h('div.wall-row',
      card('card-overdue', t('wall.overdue'), overdueBox),
      card('card-near', t('wall.nearDue'), nearBox),
      card('card-decisions', t('wall.decisions'), decisionsBox)),
    h('div.wall-row',
      card('card-intake', t('wall.intake'), intakeChart),
      card('card-ranking', t('wall.ranking'), rankChart),
      card('card-streets', t('wall.hotspots'), streetGrid, alertsBox)),
    h('section.card.assessment#card-assessment',
      h('h3', t('wall.assessment')),
      h('div.toolbar', h('label.inline', t('wall.month'), ' ', month),
        h('button#assessment-load', { type: 'button', onclick: loadAssessment }, t('wall.load')),
        h('button#assessment-csv', { type: 'button', onclick: downloadCsv }, t('wall.csv'))),
      assessmentBox),
    accuracyPanel());
  main.append(wall);
  function showView(which) {
    wall.classList.toggle('live-view', which === 'live');
    wall.classList.toggle('assessment-view', which === 'assessment');
    wall.querySelectorAll('.tiles, .wall-row').forEach((el) => { el.hidden = which !== 'live'; });
    wall.querySelector('#card-assessment').hidden = which !== 'assessment';
    // Weekly suggestion accuracy is a monthly-review figure: it sits with the assessment.
    wall.querySelectorAll('.suggest-accuracy').forEach((el) => { el.hidden = which !== 'assessment'; });
    viewLive.classList.toggle('active', which === 'live');
    viewAssessment.classList.toggle('active', which === 'assessment');
    if (which === 'live') Object.values(charts).forEach((c) => c.resize());
  }
  document.addEventListener('keydown', (e) => {
    if (e.altKey && (e.code === 'Digit1' || e.code === 'Digit2')) {
      e.preventDefault();
      showView(e.code === 'Digit1' ? 'live' : 'assessment');
    }
  });

  let echarts = null;
  let charts = {};
  showView('live');
  try {
    echarts = await loadECharts();
    charts.intake = echarts.init(intakeChart, null, { renderer: 'canvas' });
    charts.rank = echarts.init(rankChart, null, { renderer: 'canvas' });
    window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
  } catch (_) {
    intakeChart.textContent = t('common.unavailable');
  }
  let alerts = null;
  let streets = [];

  function setCount(box, n) {
    box.closest('section').querySelector('h3 .count').textContent = String(n);
  }

  function dueRow(item, kind) {
    // Overdue items are red; near-due yellow until their instant passes.
    const state = kind === 'overdue' ? 'overdue' : 'warning';
    const left = h('span.left');
    const chip = h('span.clock.' + clockClass(state, item.due_at), { dataset: { due: item.due_at, state } },
      h('span.unit', limitText({ duration: item.limit, label: item.limit_label })), ' ', h('span.at', t('clock.due', { at: fmtInstant(item.due_at) })), ' ', left);
    left.textContent = fmtLeft(Date.parse(item.due_at) - serverNow());
    return h('div.due-row', { dataset: { id: item.id, number: item.number } },
      h('div.row-head', h('a.number', { href: '#', onclick: (e) => { e.preventDefault(); openTicket(item.id, item.number); } }, item.number),
        clip(item.department_name || deptName(item.department), 'dept'),
        item.supervised ? h('span.badge.supervised', t('wall.supervised')) : null),
      h('div.row-body', clip(item.category_path || '', 'cat'), chip),
      h('div.row-actions',
        h('button.small.urge', { type: 'button', onclick: () => act(item, 'urge') }, t('wall.urge')),
        item.supervised ? null : h('button.small.supervise', { type: 'button', onclick: () => act(item, 'supervise') }, t('wall.supervise'))));
  }

  async function act(item, action) {
    try {
      await post(`/api/v1/tickets/${item.id}/${action}`, { note: null });
      toast(t(action === 'urge' ? 'wall.urged' : 'wall.decided', { n: item.number }), 'ok');
    } catch (e) {
      toast(errorText(e), 'error');
    }
  }

  function decisionRow(p) {
    return h('div.due-row.decision', { dataset: { id: p.id, number: p.number, what: p.what } },
      h('div.row-head', h('a.number', { href: '#', onclick: (e) => { e.preventDefault(); openTicket(p.id, p.number); } }, p.number),
        h('span.badge', t('wall.what.' + p.what)), clip(deptName(p.department), 'dept'),
        h('span.muted', fmtInstant(p.since))),
      h('div.row-body', clip(p.reason, 'content')),
      h('div.row-actions',
        h('button.small.primary.approve', { type: 'button', onclick: () => decide(p, true) },
          p.what === 'return' ? t('wall.redispatch') : t('wall.approve')),
        h('button.small.deny', { type: 'button', onclick: () => decide(p, false) },
          p.what === 'return' ? t('wall.reject') : t('wall.deny'))));
  }

  async function decide(p, approve) {
    let path; let body;
    if (p.what === 'return') {
      if (approve) {
        // 改派 keeps the ticket's policy unless the dispatcher picks another (assign.js).
        const ticket = await get(`/api/v1/tickets/${p.id}`).catch(() => ({}));
        const v = await assignDialog({ title: `${t('wall.redispatch')} ${p.number}`, submit: t('wall.redispatch'),
          departments: depts, policy: ticket.sla_policy || '', exclude: p.department,
          categories: await get('/api/v1/categories').catch(() => null), category: ticket.category || '',
          note: `${t('wall.returnedBy', { d: deptName(p.department) })}：${p.reason || ''}` });
        if (!v) return;
        path = 'redispatch'; body = v;
      } else {
        const v = await dialog(t('wall.reject'), [{ name: 'reason', label: t('common.reason'), input: h('textarea', { required: true }) }]);
        if (!v) return;
        path = 'reject-return'; body = { reason: v.reason };
      }
    } else {
      path = p.what === 'extension' ? 'decide-extension' : 'decide-suspension';
      body = { approve, note: null };
    }
    try {
      await post(`/api/v1/tickets/${p.id}/${path}`, body);
      toast(t('wall.decided', { n: p.number }), 'ok');
    } catch (e) {
      toast(errorText(e), 'error');
    }
  }

  async function openTicket(id, number) {
    const [ticket, panel] = await Promise.all([get(`/api/v1/tickets/${id}`).catch(() => null), historyPanel(id)]);
    await dialog(number, [{ name: 'x', label: '', input: h('div.history-wrap', ticket ? detailCard(ticket) : null, panel) }], t('common.close'), { cancel: false });
  }

  function render(v) {
    const open = v.by_status.filter((c) => !['closed', 'merged'].includes(c.key));
    tiles.replaceChildren(
      h('div.tile.red#tile-overdue', h('b', String(v.overdue.length)), h('span', t('wall.overdue'))),
      h('div.tile.yellow#tile-near', h('b', String(v.near_due.length)), h('span', t('wall.nearDue'))),
      ...open.map((c) => h('div.tile', { dataset: { status: c.key } }, h('b', String(c.count)), h('span', t('status.' + c.key, {}, c.label)))));
    setCount(overdueBox, v.overdue.length);
    setCount(nearBox, v.near_due.length);
    setCount(decisionsBox, v.awaiting_decision.length);
    overdueBox.replaceChildren(...(v.overdue.length ? v.overdue.map((i) => dueRow(i, 'overdue')) : [h('p.muted', t('common.empty'))]));
    nearBox.replaceChildren(...(v.near_due.length ? v.near_due.map((i) => dueRow(i, 'near')) : [h('p.muted', t('common.empty'))]));
    decisionsBox.replaceChildren(...(v.awaiting_decision.length ? v.awaiting_decision.map(decisionRow) : [h('p.muted', t('common.empty'))]));
    renderStreets(v.by_street);
    if (charts.intake) {
      charts.intake.setOption({
        grid: { left: 36, right: 12, top: 16, bottom: 24 },
        tooltip: { trigger: 'axis' },
        xAxis: { type: 'category', data: v.intake_by_hour.map((_, i) => String(i)) },
        yAxis: { type: 'value', minInterval: 1 },
        series: [{ type: 'bar', data: v.intake_by_hour, itemStyle: { color: '#2f6fb3' } }],
      });
    }
    if (charts.rank) {
      const top = [...v.departments].sort((a, b) => b.overdue - a.overdue || b.open - a.open).slice(0, 10).reverse();
      charts.rank.setOption({
        grid: { left: 96, right: 16, top: 24, bottom: 20 },
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
        legend: { data: [t('wall.open'), t('wall.overdue')], top: 0, textStyle: { fontSize: 11 } },
        xAxis: { type: 'value', minInterval: 1 },
        yAxis: { type: 'category', data: top.map((d) => d.name), axisLabel: { width: 88, overflow: 'truncate' } },
        series: [
          { name: t('wall.open'), type: 'bar', data: top.map((d) => d.open), itemStyle: { color: '#6b8fb8' } },
          { name: t('wall.overdue'), type: 'bar', data: top.map((d) => d.overdue), itemStyle: { color: '#c62828' } },
        ],
      });
    }
  }

  function renderStreets(byStreet) {
    streets = byStreet;
    const max = Math.max(1, ...byStreet.map((c) => c.count));
    const alerted = new Set((alerts || []).map((a) => a.street));
    streetGrid.replaceChildren(...byStreet.map((c) => {
      const heat = c.count / max;
      return h('div.street', {
        dataset: { street: c.key }, class: alerted.has(c.key) ? 'alert' : '', title: `${c.label}：${c.count}`,
        style: `--heat:${heat.toFixed(2)}`,
      }, h('span.name', c.label), h('b', String(c.count)));
    }));
  }

  function renderAlerts() {
    alertsBox.replaceChildren(alerts === null
      ? h('p.muted.unavailable', t('wall.alerts') + '：' + t('common.unavailable'))
      : h('div.alerts', alerts.map((a) => h('div.alert-row', clip(`${a.street_name} · ${a.category_name} · ${a.count}（${a.window_hours}h）`)))));
  }

  async function loadAlerts() {
    try {
      const r = await optional('GET', '/api/v1/hotspots');
      alerts = r ? r.alerts || [] : null;
      renderAlerts();
      renderStreets(streets);
    } catch (_) { /* the grid still shows */ }
  }

  // A hot spot raised just now: the banner names it with the tickets behind it, the list
  // and the street grid take it in at once.
  function showAlert(a) {
    alerts = [a, ...(alerts || []).filter((x) => x.id !== a.id)];
    renderAlerts();
    renderStreets(streets);
    const text = t('wall.hotspotText', {
      street: a.street_name || a.street, category: a.category_name || a.category,
      hours: a.window_hours, count: a.count, baseline: Number(a.baseline).toFixed(1),
    });
    banner.replaceChildren(
      h('b.banner-title', t('wall.hotspotBanner')),
      h('span.banner-text', text),
      h('span.banner-tickets', (a.numbers || []).map((n, i) =>
        h('a.number', { href: '#', onclick: (e) => { e.preventDefault(); openTicket(a.tickets[i], n); } }, n))),
      h('button.small.dismiss', { type: 'button', onclick: () => { banner.hidden = true; } }, t('common.close')));
    banner.dataset.alert = String(a.id);
    banner.hidden = false;
  }

  function thisMonth() {
    const d = new Date(serverNow() + 8 * 3600e3);
    return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  }

  async function loadAssessment() {
    assessmentBox.replaceChildren(h('p.muted', t('common.loading')));
    try {
      const a = await get(`/api/v1/assessment?month=${month.value}`);
      const pct = (x) => (x === null || x === undefined ? '—' : (x * 100).toFixed(1) + '%');
      assessmentBox.replaceChildren(h('div.table-wrap', h('table.assessment',
        h('thead', h('tr', [t('wall.rank'), t('common.department'), t('wall.score'), t('rate.response'), t('rate.on_time_reply'),
          t('rate.resolution'), t('rate.satisfaction'), t('rate.returns')].map((x) => h('th', { title: x }, x)))),
        h('tbody', a.departments.map((d) => h('tr', { class: 'level-' + d.level },
          h('td', d.rank ?? '—'), h('td', clip(d.name)), h('td', d.score ?? '—'),
          h('td', pct(d.rates.response)), h('td', pct(d.rates.on_time_reply)), h('td', pct(d.rates.resolution)),
          h('td', pct(d.rates.satisfaction)), h('td', pct(d.rates.returns))))))));
    } catch (e) {
      assessmentBox.replaceChildren(h('p.error', errorText(e)));
    }
  }

  async function downloadCsv() {
    try {
      const r = await fetch(`/api/v1/assessment.csv?month=${month.value}`, { headers: { Authorization: 'Bearer ' + session.token } });
      if (!r.ok) throw Object.assign(new Error('csv'), { status: r.status, body: await r.json().catch(() => ({})) });
      const url = URL.createObjectURL(await r.blob());
      const a = h('a', { href: url, download: `assessment-${month.value}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 5000);
    } catch (e) {
      toast(errorText(e), 'error');
    }
  }

  await loadAlerts();
  try { render(await get('/api/v1/dashboard/supervisor')); } catch (e) { toast(errorText(e), 'error'); }
  loadAssessment();
  setInterval(loadAlerts, 60000);
  live(['supervisor'], (msg) => {
    if (msg.type === 'view' && msg.view === 'supervisor') render(msg.data);
    if (msg.type === 'hotspot_alert') showAlert(msg.alert);
    seats.message(msg);
  }, liveState);
}
