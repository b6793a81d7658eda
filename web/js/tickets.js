// What every page shows of a ticket: its summary, its clocks, and its full history.
import { t, lang } from './i18n.js';
import { get } from './api.js';
import { h, clip, clockChip, fmtInstant, statusLabel, errorText, limitText } from './dom.js';
import { loadPolicies, policyLabel } from './assign.js';
import { callsPanel } from './seats.js';
import { attachmentsPanel } from './attachments.js';

const EVENT_ZH = {
  received: '受理', resolved_directly: '直接办结', dispatched: '派单', redispatched: '改派', passed_down: '下派',
  accepted: '签收', resident_contacted: '首次联系', returned: '退单', return_rejected: '退单驳回',
  extension_requested: '申请延期', extension_decided: '延期审批', suspension_requested: '申请挂起',
  suspension_decided: '挂起审批', resumed: '恢复办理', assist_replied: '协办回复', assists_waived: '免协办',
  replied: '办结回复', callback_recorded: '回访', reopened: '重办', closed: '归档', merged: '合并',
  merge_received: '并入', urged: '催办', supervised: '督办', caller_revealed: '查看来电人',
  clocks_changed: '时限变更', clock_warned: '预警', clock_overdue: '超期', callback_scheduled: '回访排期',
  callback_claimed: '认领回访', callback_unreachable: '回访未接通', late_listed: '通报',
  attachment_added: '添加附件',
  partner_filed: '合作平台提交（Open311）',
  media_fetch_failed: '合作平台图片未能取回',
};

export function eventLabel(type) {
  if (lang === 'en') return t('event.' + type, {}, type.replace(/_/g, ' '));
  return EVENT_ZH[type] || t('event.' + type, {}, type);
}

let departments = null;
/** Department code → short name (loaded once). */
export async function departmentNames() {
  if (!departments) {
    try {
      const list = await get('/api/v1/departments');
      departments = { list, names: Object.fromEntries(list.map((d) => [d.code, d.short_name || d.name])) };
    } catch (_) {
      departments = { list: [], names: {} };
    }
  }
  return departments;
}
export function deptName(code) {
  return (departments && departments.names[code]) || code || '';
}

/** The clocks that matter now: running ones of the current assignment, soonest first. */
export function clocksOf(ticket) {
  return (ticket.clock_views || []).filter((c) => c.state !== 'stopped');
}

/** One line per ticket in a list: number, status, category, content, clocks. */
export function ticketRow(ticket, extra) {
  return h('div.ticket-row', { dataset: { id: ticket.id, number: ticket.number, status: ticket.status } },
    h('div.row-head',
      h('span.number', ticket.number),
      h('span.badge.status-' + ticket.status, statusLabel(ticket)),
      ticket.urgency === 'urgent' ? h('span.badge.urgent', t('urgency.urgent')) : null,
      ticket.supervised ? h('span.badge.supervised', t('wall.supervised')) : null,
      clip(ticket.category_path || ticket.category, 'cat')),
    h('div.row-body', clip(ticket.content, 'content')),
    h('div.row-clocks', clocksOf(ticket).map(clockChip)),
    extra || null);
}

/**
 * The ticket a link names by its number, or null when there is none this user may see: the
 * server answers 404 for another department's ticket as for an unknown one (and 400 for
 * something that is no ticket number at all).
 */
export async function linkedTicket(number) {
  try {
    return await get(`/api/v1/tickets/${encodeURIComponent(number)}`);
  } catch (e) {
    if (e.status === 404 || e.status === 400) return null;
    throw e;
  }
}

/** What a link to a ticket this user may not see shows. */
export function missingNote() {
  return h('p.error#ticket-missing', { role: 'alert' }, t('ticket.missing'));
}

/** A ticket's full history, oldest first, in a panel. */
export async function historyPanel(id) {
  const box = h('div.history', h('p.muted', t('common.loading')));
  try {
    const [events] = await Promise.all([get(`/api/v1/tickets/${id}/events`), loadPolicies()]);
    // Logged during a call: the call and its recording (centre roles; null for the others).
    const calls = events.some((e) => e.type === 'received' && e.data && e.data.call_id) ? await callsPanel(id) : null;
    box.replaceChildren(h('ol.timeline', events.map((e) => h('li', { dataset: { type: e.type } },
      h('span.when', fmtInstant(e.at, true)),
      h('b', eventLabel(e.type)),
      h('span.who', e.actor ? e.actor.username : ''),
      summary(e)))), ...(calls ? [calls] : [])); // replaceChildren would print a null as "null"
  } catch (e) {
    box.replaceChildren(h('p.error', errorText(e)));
  }
  return box;
}

function summary(e) {
  const d = e.data || {};
  const parts = [];
  if (d.lead) parts.push(deptName(d.lead));
  // 改派 that changed the deadline policy says from which to which (who: the actor column).
  if (e.type === 'redispatched' && d.previous_policy) {
    parts.push(t('history.policyChanged', { from: policyLabel(d.previous_policy), to: policyLabel(d.sla_policy) }));
  } else if ((e.type === 'dispatched' || e.type === 'redispatched') && d.sla_policy) {
    parts.push(t('field.policy') + ' ' + policyLabel(d.sla_policy));
  }
  // 改派 that corrected the category: from which to which.
  if (e.type === 'redispatched' && d.recategorised) {
    parts.push(t('history.categoryChanged', { from: d.recategorised.from, to: d.recategorised.to }));
  }
  // 时限变更: what caused it and the deadlines now running.
  if (e.type === 'clocks_changed') {
    parts.push(t('history.cause', { c: eventLabel(d.cause) }));
    for (const c of (d.clocks || []).filter((c) => !c.stopped_at && c.due_at)) {
      const who = c.department ? deptName(c.department) + ' ' : '';
      parts.push(`${who}${t('stage.' + c.stage)} ${t('clock.due', { at: fmtInstant(c.due_at) })}${c.paused_at ? ' (' + t('clock.paused') + ')' : ''}`);
    }
  }
  // Open311: which partner filed it, and the photo link it sent (shown as text, never fetched here).
  if (e.type === 'partner_filed') {
    parts.push(d.partner);
    if (d.lat && d.long) parts.push(`${d.lat},${d.long}`);
    if (d.media_url) parts.push(d.media_url);
  }
  if (e.type === 'media_fetch_failed') parts.push(d.url);
  if (d.outcome) parts.push(t('outcome.' + d.outcome, {}, d.outcome));
  if (d.satisfaction) parts.push(t('satisfaction.' + d.satisfaction, {}, d.satisfaction));
  if (d.to) parts.push('→ ' + deptName(d.to));
  if (d.reason) parts.push(d.reason);
  // The server's own notes (system urges and supervision) are stable sentences the page translates.
  if (d.note) parts.push(t('note.' + d.note, {}, d.note));
  if (d.text) parts.push(d.text);
  if (d.answer) parts.push(d.answer);
  if (d.extra) parts.push('+' + limitText({ duration: d.extra }));
  if (d.stage) parts.push(t('stage.' + d.stage, {}, d.stage));
  if (d.approved !== undefined) parts.push(d.approved ? '✔' : '✘');
  if (e.type === 'received' && d.content) parts.push(d.content);
  if (e.type === 'attachment_added') parts.push(`${d.name} (${d.content_type}, ${Math.max(1, Math.round(d.size / 1024))} KB)`);
  // Whole, wrapped: a return's reason or a reply is read in full, not cut off.
  return parts.length ? h('span.what.wrap', parts.join(' · ')) : null;
}

/** Ticket details: what was asked, where, who, and the clocks. */
export function detailCard(ticket) {
  const dl = (k, v) => (v ? [h('dt', k), h('dd', v)] : []);
  return h('div.detail',
    h('h3', ticket.number, ' ', h('span.badge.status-' + ticket.status, statusLabel(ticket))),
    h('dl',
      dl(t('common.category'), ticket.category_path || ticket.category),
      dl(t('console.kind'), t('kind.' + ticket.kind)),
      dl(t('console.address'), ticket.address),
      dl(t('console.name'), [ticket.caller_name, ticket.caller_phone].filter(Boolean).join(' ')),
      dl(t('common.department'), deptName(ticket.lead)),
      dl(t('workbench.assists'), (ticket.assists || []).length ? h('span#assists', ticket.assists.map((a) => h('span.badge',
        { class: a.replied_at || a.waived ? 'done' : 'waiting' },
        `${deptName(a.department)} · ${t(a.replied_at || a.waived ? 'workbench.assist.done' : 'workbench.assist.waiting')}`))) : null),
      dl(t('common.created'), fmtInstant(ticket.created_at, true))),
    h('p.content-full', ticket.content),
    ticket.reply ? h('p.reply', h('b', t('workbench.reply') + '：'), ticket.reply) : null,
    h('div.row-clocks', clocksOf(ticket).map(clockChip)),
    attachmentsPanel(ticket));
}
