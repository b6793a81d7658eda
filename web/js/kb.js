// 知识库: the articles operators read out when they answer on the spot (直接办结). Admins
// keep every article; a department keeps its own units' (write, renew, retire with a reason);
// supervisors and dispatchers read. Expired articles are flagged for renewal.
import { t } from './i18n.js';
import { get, post, api, session } from './api.js';
import { h, clip, toast, errorText, debounce, fmtInstant } from './dom.js';
import { departmentNames, deptName } from './tickets.js';
import { picker, categoryChoices, departmentChoices } from './picker.js';

export async function mount(main) {
  const me = session.user || {};
  const [{ list: depts }, categories] = await Promise.all([departmentNames(), get('/api/v1/categories')]);
  const pathOf = Object.fromEntries(categories.map((c) => [c.code, c.path]));
  const mine = (code) => me.role === 'admin' || (me.role === 'department' && (me.units || []).includes(code));
  const editor = me.role === 'admin' || me.role === 'department';
  const q = h('input#kb-filter', { type: 'search', placeholder: t('kb.search'), 'aria-label': t('kb.search') });
  const listBox = h('div.list#kb-list');
  main.append(h('section.card.kb-page',
    h('div.toolbar', h('h3', t('kb.title')), q,
      editor ? h('button.primary#kb-new', { type: 'button', onclick: () => edit(null) }, t('kb.new')) : null),
    h('p.muted', t(editor ? 'kb.intro.editor' : 'kb.intro.reader')),
    listBox));

  async function load() {
    const params = new URLSearchParams({ include_expired: 'true' });
    if (q.value.trim()) params.set('q', q.value.trim());
    if (me.role === 'department' && me.department) params.set('department', me.department);
    try {
      const { articles } = await get('/api/v1/kb/articles?' + params);
      const live = articles.filter((a) => !a.retired);
      listBox.replaceChildren(...(live.length ? live.map(row) : [h('p.muted', t('kb.empty'))]));
    } catch (e) {
      listBox.replaceChildren(h('p.error', errorText(e)));
    }
  }

  function row(a) {
    const validity = `${fmtInstant(a.valid_from, true).slice(0, 10)} — ${a.valid_to ? fmtInstant(a.valid_to, true).slice(0, 10) : t('kb.noEnd')}`;
    return h('div.article.kb-row', { dataset: { id: a.id } },
      h('div.row-head', h('b', clip(a.question)), a.expired ? h('span.badge.urgent', t('console.kb.expired')) : null),
      h('div.row-body.muted', clip(`${pathOf[a.category] || a.category} · ${deptName(a.department)} · ${t('kb.valid')} ${validity}`)),
      h('p.answer', a.answer),
      mine(a.department) ? h('div.row-actions',
        h('button.small.kb-edit', { type: 'button', onclick: () => edit(a) }, t('kb.edit')),
        h('button.small.kb-retire', { type: 'button', onclick: () => retire(a) }, t('kb.retire'))) : null);
  }

  function edit(a) {
    const question = h('input#kb-question', { name: 'question', maxlength: 200, value: a ? a.question : '' });
    const answer = h('textarea#kb-answer', { name: 'answer', rows: 6, value: a ? a.answer : '' });
    if (a) answer.value = a.answer;
    const category = picker({ id: 'kb-category', name: 'category', items: categoryChoices(categories),
      value: a ? a.category : '', placeholder: t('console.category.hint'), label: t('common.category') });
    const units = departmentChoices(depts, (d) => d.kind !== 'centre' && mine(d.code));
    const owner = picker({ id: 'kb-department', name: 'department', items: units,
      value: a ? a.department : (me.role === 'department' ? me.department : ''), placeholder: t('picker.unit.hint'), label: t('kb.owner') });
    const day = (iso) => (iso ? fmtInstant(iso, true).slice(0, 10) : '');
    const from = h('input#kb-from', { type: 'date', name: 'valid_from', value: a ? day(a.valid_from) : '' });
    const to = h('input#kb-to', { type: 'date', name: 'valid_to', value: a ? day(a.valid_to) : '' });
    const error = h('p.field-error#kb-error', { role: 'alert' });
    return new Promise((resolve) => {
      const form = h('form.dialog.kb-editor', { method: 'dialog', novalidate: true },
        h('h3', t(a ? 'kb.edit' : 'kb.new')),
        h('label.field', h('span', t('kb.question')), question),
        h('label.field', h('span', t('kb.answer')), answer),
        h('div.row2', h('label.field', h('span', t('common.category')), category), h('label.field', h('span', t('kb.owner')), owner)),
        h('div.row2', h('label.field', h('span', t('kb.from')), from), h('label.field', h('span', t('kb.to')), to)),
        error,
        h('div.actions', h('button.primary#kb-save', { type: 'submit' }, t('console.save')),
          h('button', { type: 'button', onclick: () => close() }, t('common.cancel'))));
      const dlg = h('dialog', form);
      const close = () => { dlg.close(); dlg.remove(); resolve(); };
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const body = { question: question.value.trim(), answer: answer.value.trim(), category: category.value, department: owner.value };
        if (!body.question) { error.textContent = t('msg.required', { f: t('kb.question') }); question.focus(); return; }
        if (!body.answer) { error.textContent = t('msg.required', { f: t('kb.answer') }); answer.focus(); return; }
        if (!body.category) { error.textContent = t('msg.category'); category.input.focus(); return; }
        if (!body.department) { error.textContent = t('msg.unit'); owner.input.focus(); return; }
        if (from.value) body.valid_from = from.value;
        if (to.value) body.valid_to = to.value;
        try {
          if (a) await api('PUT', `/api/v1/kb/articles/${a.id}`, body);
          else await post('/api/v1/kb/articles', body);
          toast(t('kb.saved'), 'ok');
          close();
          load();
        } catch (e) {
          error.textContent = errorText(e);
        }
      });
      dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); close(); });
      document.body.append(dlg);
      dlg.showModal();
      question.focus();
    });
  }

  function retire(a) {
    const reason = h('textarea#kb-retire-reason', { name: 'reason', rows: 3 });
    const error = h('p.field-error', { role: 'alert' });
    return new Promise((resolve) => {
      const form = h('form.dialog', { method: 'dialog', novalidate: true },
        h('h3', `${t('kb.retire')}：${a.question}`), h('p.muted', t('kb.retire.why')),
        h('label.field', h('span', t('common.reason')), reason), error,
        h('div.actions', h('button.primary#kb-retire-confirm', { type: 'submit' }, t('kb.retire')),
          h('button', { type: 'button', onclick: () => close() }, t('common.cancel'))));
      const dlg = h('dialog', form);
      const close = () => { dlg.close(); dlg.remove(); resolve(); };
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (!reason.value.trim()) { error.textContent = t('msg.required', { f: t('common.reason') }); return; }
        try {
          await post(`/api/v1/kb/articles/${a.id}/retire`, { reason: reason.value.trim() });
          toast(t('kb.retired'), 'ok');
          close();
          load();
        } catch (e) {
          error.textContent = errorText(e);
        }
      });
      dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); close(); });
      document.body.append(dlg);
      dlg.showModal();
      reason.focus();
    });
  }

  q.addEventListener('input', debounce(load, 300));
  await load();
}
