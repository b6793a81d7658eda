// A keyboard-first search box for choosing one thing from a long list — a category (分类) or
// a unit (承办单位) — by what the user knows of it: its name, its full path, its code, or the
// initials of its pinyin (路灯, 市政设施/路灯, ldgz, 01.02.03). Arrow keys move, Enter or Tab
// takes the highlighted choice, Esc closes the list; the mouse works too. Plain DOM (an
// ARIA combobox), so it behaves the same in Chromium and Firefox, unlike <datalist>.
import { t } from './i18n.js';
import { h } from './dom.js';

const SHOWN = 12;
let serial = 0;

/** Choices for categories from GET /api/v1/categories (leaves only). */
export function categoryChoices(categories) {
  return categories.filter((c) => c.leaf).map((c) => ({
    value: c.code, label: c.name, detail: c.path, initials: c.initials || '',
    // 城乡建设 / 市政设施 / 路灯故障 is typed 市政设施/路灯 or 市政设施路灯.
    words: [c.name, c.path, c.path.replace(/\s*\/\s*/g, '/'), c.path.replace(/[\s/]/g, '')],
  }));
}

/** Choices for units from GET /api/v1/departments (the full name, the short one, the code). */
export function departmentChoices(departments, filter = () => true) {
  return departments.filter(filter).map((d) => ({
    value: d.code, label: d.short_name || d.name, detail: d.name !== (d.short_name || d.name) ? d.name : '',
    initials: d.initials || '', words: [d.name, d.short_name || ''],
  }));
}

/** How well `q` (lower case) names the choice: 0 not at all, higher is better. */
function rank(choice, q) {
  if (!q) return 1;
  const code = choice.value.toLowerCase();
  if (code === q) return 100;
  if (choice.label === q || choice.detail === q) return 95;
  let best = 0;
  for (const w of choice.words) {
    if (!w) continue;
    if (w.startsWith(q)) best = Math.max(best, 80);
    else if (w.includes(q)) best = Math.max(best, 70);
  }
  if (code.startsWith(q)) best = Math.max(best, 75);
  const initials = choice.initials.toLowerCase();
  if (initials && /^[a-z]+$/.test(q)) {
    if (initials.startsWith(q)) best = Math.max(best, 78);
    else if (initials.includes(q)) best = Math.max(best, 60);
  }
  // Pieces of a path typed with a slash or a space: 市政设施/路灯, 市政 路灯.
  if (!best && /[/\s]/.test(q)) {
    const parts = q.split(/[/\s]+/).filter(Boolean);
    const hay = (choice.detail || choice.label).toLowerCase();
    if (parts.length && parts.every((p) => hay.includes(p))) best = 65;
  }
  return best;
}

/**
 * A search box. `items` as from categoryChoices / departmentChoices. Returns the wrapper
 * element with `.input`, `.value` (the chosen code, '' when none), `.set(code)`, `.clear()`;
 * the input fires `change` when the choice changes.
 */
export function picker({ id, name, items, placeholder = '', value = '', required = false, label = '' }) {
  const listId = `picker-list-${++serial}`;
  const input = h('input', {
    id, name, type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder, required,
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
    'aria-label': label || placeholder,
  });
  const list = h('ul.picker-list', { id: listId, role: 'listbox', hidden: true });
  const box = h('span.picker', input, list);
  let chosen = null;
  let shown = [];
  let active = -1;
  const byValue = new Map(items.map((c) => [c.value, c]));

  const display = (c) => (c.detail && c.detail.includes('/') ? c.detail : c.label);
  function choose(c, silent) {
    const changed = (chosen && chosen.value) !== (c && c.value);
    chosen = c;
    input.value = c ? display(c) : '';
    input.title = c ? `${c.detail || c.label}（${c.value}）` : '';
    input.dataset.value = c ? c.value : '';
    close();
    if (changed && !silent) input.dispatchEvent(new Event('change', { bubbles: true }));
  }
  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }
  function highlight(i) {
    active = i;
    [...list.children].forEach((li, j) => li.classList.toggle('active', j === i));
    const li = list.children[i];
    if (li && li.id) {
      input.setAttribute('aria-activedescendant', li.id);
      li.scrollIntoView({ block: 'nearest' });
    }
  }
  function open() {
    const q = input.value.trim().toLowerCase();
    shown = items.map((c, i) => [c, rank(c, q), i]).filter((x) => x[1] > 0)
      .sort((a, b) => b[1] - a[1] || a[2] - b[2]).slice(0, SHOWN).map((x) => x[0]);
    list.replaceChildren(...(shown.length ? shown.map((c, i) => h('li.picker-option', {
      id: `${listId}-${i}`, role: 'option', dataset: { value: c.value }, title: c.value,
      onmousedown: (e) => { e.preventDefault(); choose(c); },
    }, h('span.picker-label', c.label), c.detail && c.detail !== c.label ? h('span.picker-detail', c.detail) : null,
    h('span.picker-code', c.value))) : [h('li.picker-none', t('picker.none'))]));
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    highlight(shown.length ? 0 : -1);
  }

  input.addEventListener('input', () => {
    // Typing again undoes the choice until one is taken from the list.
    if (chosen && input.value !== display(chosen)) {
      chosen = null;
      input.dataset.value = '';
      input.title = '';
      input.dispatchEvent(new Event('change', { bubbles: true }));
    }
    if (input.value.trim()) open(); else close();
  });
  input.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (list.hidden) { open(); return; }
      if (!shown.length) return;
      highlight((active + (e.key === 'ArrowDown' ? 1 : shown.length - 1)) % shown.length);
    } else if (e.key === 'Enter' && !list.hidden) {
      e.preventDefault();
      e.stopPropagation();
      if (shown[active]) choose(shown[active]);
    } else if (e.key === 'Tab' && !list.hidden && shown[active] && input.value.trim()) {
      choose(shown[active]);
    } else if (e.key === 'Escape' && !list.hidden) {
      e.preventDefault();
      e.stopPropagation();
      close();
    }
  });
  input.addEventListener('blur', () => {
    // Left with exactly one way to read what was typed: that is the choice.
    if (!chosen && input.value.trim()) {
      const q = input.value.trim().toLowerCase();
      const exact = items.filter((c) => rank(c, q) >= 95);
      if (exact.length === 1) choose(exact[0]);
    }
    close();
  });

  Object.defineProperty(box, 'value', { get: () => (chosen ? chosen.value : '') });
  box.input = input;
  box.set = (code, silent = true) => choose(byValue.get(code) || null, silent);
  box.clear = () => choose(null, true);
  if (value) box.set(value);
  return box;
}
