// Intake assistance (智能辅助填单): the categories, street and urgency suggested while the
// operator types the call (POST /api/v1/tickets/suggest), Alt+1…3 to take one; and the
// suggestion-accuracy panel of the wall (GET /api/v1/suggest/accuracy).
// Its words live here, not in i18n.js, so that this feature stays in one file.

import { lang } from './i18n.js';
import { optional } from './api.js';
import { h, debounce } from './dom.js';

const WORDS = {
  zh: {
    title: '智能辅助填单', type: '输入诉求内容后显示建议分类', take: '采用', urgent: '可能紧急',
    urgentHint: '（由紧急程度一栏确认）', proposalHint: '（在派单预览中确认或排除：Alt+E / Alt+X）', street: '地点', version: '模型版本', words: '依据',
    accuracy: '智能辅助填单准确率', week: '周', tickets: '件数', taken: '采用', overridden: '改选',
    top1: '首选正确', top3: '前三正确', untrained: '尚未训练（仅用分类词）', trained: '训练于 {t}，{n} 件工单',
    keys: 'Alt+1…3 采用建议',
  },
  en: {
    title: 'Suggestions', type: 'Suggested categories appear as you type the content', take: 'Take', urgent: 'Possibly urgent',
    urgentHint: '(confirm in the urgency field)', proposalHint: '(confirm or dismiss in the routing preview: Alt+E / Alt+X)', street: 'Place', version: 'model version', words: 'because of',
    accuracy: 'Suggestion accuracy', week: 'Week', tickets: 'Tickets', taken: 'Taken', overridden: 'Overridden',
    top1: 'Top-1 right', top3: 'Top-3 right', untrained: 'not trained yet (category words only)', trained: 'trained {t} on {n} tickets',
    keys: 'Alt+1…3 takes a suggestion',
  },
};
const w = (k, vars = {}) => ((WORDS[lang] || WORDS.zh)[k] || WORDS.zh[k]).replace(/\{(\w+)\}/g, (_, v) => vars[v] ?? '');
const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 100)}%`);

/**
 * Suggestions under the category field of the call form. `f` is the console's form inputs,
 * `leafByCode` its categories; taking a suggestion fills the category (and the street when
 * none is picked) and fires their input events, so the routing preview and similar tickets
 * follow. Returns { box, shown(), clear() }: `shown()` is what intake records with the ticket.
 */
export function attachSuggestions(f, leafByCode, panel, setCategory) {
  const box = h('div.suggest#suggest', { 'aria-live': 'polite' }, h('p.muted', w('type')));
  let last = null; // the answer on screen
  let asked = 0;

  const load = debounce(async () => {
    const content = f.content.value;
    const ask = ++asked;
    if (!content.trim()) { last = null; box.replaceChildren(h('p.muted', w('type'))); return; }
    let answer;
    try {
      answer = await optional('POST', '/api/v1/tickets/suggest', { content, address: f.address.value, kind: f.kind.value });
    } catch (e) {
      return; // a suggestion is a help, never an obstacle
    }
    if (ask !== asked || !answer) return;
    last = answer;
    render(answer);
  }, 250);
  for (const k of ['content', 'address']) f[k].addEventListener('input', load);
  f.kind.addEventListener('change', load);

  function render(a) {
    const items = a.categories.slice(0, 3).map((c, i) => h('button.small.suggest-take', {
      type: 'button', id: 'suggestion-' + (i + 1), title: c.path, onclick: () => take(i),
    }, h('kbd', 'Alt+' + (i + 1)), ' ', c.name, h('span.muted', ` ${Math.round(c.score * 100)}%`),
    c.why.length ? h('span.why', ` · ${w('words')} ${c.why.join('、')}`) : null));
    const rest = a.categories.slice(3).map((c) => h('span.muted', ` ${c.name}`));
    // The DOM's replaceChildren writes a null as the text "null": only the parts there are.
    box.replaceChildren(...[
      items.length ? h('div.suggestions', items, rest) : h('p.muted', a.notice_label || w('type')),
      a.street_name ? h('p.muted#suggest-place', `${w('street')}：${a.street_name}${a.community_name ? ' · ' + a.community_name : ''}`
        + (a.located_by ? `（${a.located_by}）` : '')) : null,
      a.urgency ? h('p.warn#suggest-urgent', urgencyText(a.urgency_why)) : null,
      h('p.muted.small', `${w('version')} ${a.model_version} · ${w('keys')}`)].filter(Boolean));
  }

  // An emergency rule's reason already reads "可能紧急: 起火 (…)", and it is answered in the
  // routing preview's panel (emergency.js), not in the urgency field.
  function urgencyText(whys) {
    const proposed = whys.some((why) => why.startsWith('可能紧急'));
    return proposed ? `${whys.join('；')} ${w('proposalHint')}` : `${w('urgent')}：${whys.join('；')} ${w('urgentHint')}`;
  }

  function take(i) {
    const c = last && last.categories[i];
    if (!c || !leafByCode[c.code]) return;
    // The category field is a search box (picker.js): choosing through it fires its change.
    setCategory(c.code);
    if (!f.street.value && last.street) {
      f.street.value = last.street;
      f.street.dispatchEvent(new Event('change', { bubbles: true }));
    }
  }

  // Alt+1…3 take a suggestion while the call form is open and suggestions are on screen; the
  // console's own Alt+1…4 (tabs) keep working everywhere else. Captured on window, so the
  // console's handler on document does not also switch tabs.
  window.addEventListener('keydown', (e) => {
    if (!e.altKey || !['Digit1', 'Digit2', 'Digit3'].includes(e.code)) return;
    if (panel.hidden || !last || !last.categories.length) return;
    if (!panel.contains(document.activeElement)) return;
    // A saved call takes no more suggestions: Alt+2 there is the manual queue, as everywhere.
    if (f.content.form && f.content.form.classList.contains('saved')) return;
    const i = Number(e.code.slice(-1)) - 1;
    if (!last.categories[i]) return;
    e.preventDefault();
    e.stopPropagation();
    take(i);
  }, true);

  return {
    box,
    shown: () => (last && last.categories.length
      ? { model_version: last.model_version, categories: last.categories.map((c) => c.code) } : null),
    clear: () => { last = null; asked++; box.replaceChildren(h('p.muted', w('type'))); },
  };
}

/** The wall's panel: suggestion accuracy per week. Hidden when the endpoint is not there. */
export function accuracyPanel() {
  const body = h('div#suggest-accuracy', h('p.muted', '…'));
  const card = h('section.card.suggest-accuracy', h('h3', w('accuracy')), body);
  async function refresh() {
    let a;
    try {
      a = await optional('GET', '/api/v1/suggest/accuracy?weeks=6');
    } catch (e) {
      body.replaceChildren(h('p.muted', String(e.message || e)));
      return;
    }
    if (!a) { card.hidden = true; return; }
    const th = (k) => h('th', w(k));
    body.replaceChildren(
      h('table.small', h('thead', h('tr', th('week'), th('tickets'), th('taken'), th('overridden'), th('top1'), th('top3'))),
        h('tbody', a.weeks.slice().reverse().map((x) => h('tr',
          h('td', x.week.slice(5)), h('td', String(x.tickets)), h('td', pct(x.taken_rate)), h('td', String(x.overridden)),
          h('td', pct(x.top1_rate)), h('td', pct(x.top3_rate)))))),
      h('p.muted.small', `${w('version')} ${a.model_version} · `
        + (a.trained_at ? w('trained', { t: a.trained_at.slice(0, 10), n: a.trained_on_tickets }) : w('untrained'))));
  }
  refresh();
  setInterval(refresh, 5 * 60 * 1000);
  return card;
}
