// The dispatch and re-dispatch (派单 / 改派) dialog: the lead unit chosen by name in a search
// box, the SLA policy (时限标准) chosen from the list with the ticket's own preselected and
// the deadlines it would give shown as it changes. Errors stay in the dialog, in the page's
// language; nothing is sent until the choice is whole.
import { t, lang } from './i18n.js';
import { get } from './api.js';
import { h, fmtInstant, limitText } from './dom.js';
import { picker, departmentChoices, categoryChoices } from './picker.js';

let policies = null;
/** The policies with the deadlines each would give a ticket assigned now (re-read each time). */
export async function loadPolicies() {
  try { policies = await get('/api/v1/dispatch/policies'); } catch (_) { policies = policies || []; }
  return policies;
}
/** `一般诉求 5个工作日` for a policy name (after loadPolicies), the name when unknown. */
export function policyLabel(name) {
  const p = (policies || []).find((x) => x.name === name);
  if (!p) return name || '';
  return lang === 'en' ? `${t('policy.' + p.name, {}, p.name)} ${limitText(p.reply_deadline)}` : p.label;
}

/**
 * Asks for a lead and a policy. `lead` preselects a unit, `policy` the ticket's policy
 * (else the default); `exclude` leaves a unit out (the one returning it). With `categories`
 * (GET /api/v1/categories) and the ticket's `category`, the category can be corrected on the
 * way (改派 after a return saying it was filed wrongly). Resolves with { lead, policy } (and
 * `category` when changed) or null when cancelled.
 */
export async function assignDialog({ title, submit, departments, lead = '', policy = '', exclude = '', note = null,
  categories = null, category = '' }) {
  const list = await loadPolicies();
  const units = departmentChoices(departments, (d) => d.kind !== 'centre' && d.code !== exclude);
  const leadBox = picker({ id: 'assign-lead', name: 'lead', items: units, value: lead, required: true,
    placeholder: t('picker.unit.hint'), label: t('console.lead') });
  const chosen = policy && list.some((p) => p.name === policy) ? policy : (list.find((p) => p.default) || {}).name;
  const policySelect = h('select#assign-policy', { name: 'policy' }, list.map((p) =>
    h('option', { value: p.name, selected: p.name === chosen }, policyLabel(p.name) + (p.name === policy ? ' ' + t('assign.current') : ''))));
  const deadlines = h('p.assign-deadlines#assign-deadlines');
  const showDeadlines = () => {
    const p = list.find((x) => x.name === policySelect.value);
    deadlines.textContent = p ? `${t('console.preview.accept')}：${limitText(p.accept_deadline)} · ${fmtInstant(p.accept_deadline.at, true)}　`
      + `${t('console.preview.reply')}：${limitText(p.reply_deadline)} · ${fmtInstant(p.reply_deadline.at, true)}` : '';
  };
  policySelect.addEventListener('change', showDeadlines);
  showDeadlines();
  const categoryBox = categories ? picker({ id: 'assign-category', name: 'category', items: categoryChoices(categories),
    value: category, placeholder: t('console.category.hint'), label: t('assign.category') }) : null;
  const error = h('p.field-error#assign-error', { role: 'alert' });
  return new Promise((resolve) => {
    const form = h('form.dialog', { method: 'dialog', novalidate: true },
      h('h3', title),
      note ? h('p.muted', note) : null,
      h('label.field', h('span', t('console.lead')), leadBox),
      h('label.field', h('span', t('field.policy')), policySelect),
      categoryBox ? h('label.field', h('span', t('assign.category')), categoryBox) : null,
      deadlines,
      error,
      h('div.actions', h('button.primary', { type: 'submit' }, submit),
        h('button', { type: 'button', onclick: () => close(null) }, t('common.cancel'))));
    const dlg = h('dialog', form);
    const close = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!leadBox.value) {
        error.textContent = t('msg.unit');
        leadBox.input.setAttribute('aria-invalid', 'true');
        leadBox.input.focus();
        return;
      }
      const v = { lead: leadBox.value, policy: policySelect.value };
      if (categoryBox && categoryBox.value && categoryBox.value !== category) v.category = categoryBox.value;
      close(v);
    });
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); close(null); });
    document.body.append(dlg);
    dlg.showModal();
    // The suggested unit is selected: typing another name replaces it instead of adding to it.
    leadBox.input.focus();
    leadBox.input.select();
  });
}
