// 网上诉求: a resident submits a request without logging in and gets its number; the
// tracking page shows its progress and reply by number + the phone's last four digits.
import { t } from './i18n.js';
import { api } from './api.js';
import { h, errorText, fmtInstant } from './dom.js';
import { uploadFiles, publicAttachments } from './attachments.js';

const MAX_CONTENT = 4000;

export async function mount(main, { path }) {
  if (path === '/track') return track(main);
  return submitForm(main);
}

/** Shows a message under the field the server (or the page) named. */
function fieldErrors(form) {
  const errors = {};
  return {
    slot(name) { errors[name] = h('span.field-error', { id: 'err-' + name, role: 'alert' }); return errors[name]; },
    clear() {
      for (const [name, el] of Object.entries(errors)) {
        el.textContent = '';
        form.querySelector(`[name="${name}"]`)?.removeAttribute('aria-invalid');
      }
    },
    show(name, message) {
      const el = errors[name];
      if (!el) return false;
      el.textContent = message;
      const input = form.querySelector(`[name="${name}"]`);
      if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
      return true;
    },
  };
}

async function submitForm(main) {
  let choices;
  try {
    choices = await api('GET', '/api/v1/public/form');
  } catch (e) {
    main.append(h('p.error', errorText(e)));
    return;
  }
  const form = h('form.card.public-form#public-form', { novalidate: true });
  const errs = fieldErrors(form);
  const kind = h('select#p-kind', { name: 'kind' }, h('option', { value: '' }, t('public.choose')),
    choices.kinds.map((k) => h('option', { value: k.code }, t('kind.' + k.code, {}, k.label))));
  const category = h('select#p-category', { name: 'category' }, h('option', { value: '' }, t('public.choose')),
    choices.categories.map((c) => h('option', { value: c.code, title: c.label }, c.label)));
  const content = h('textarea#p-content', { name: 'content', rows: 6, maxlength: MAX_CONTENT });
  const counter = h('span.counter', t('public.chars', { n: 0, max: MAX_CONTENT }));
  content.addEventListener('input', () => { counter.textContent = t('public.chars', { n: content.value.length, max: MAX_CONTENT }); });
  const address = h('input#p-address', { name: 'address', maxlength: 200, autocomplete: 'street-address' });
  const phone = h('input#p-phone', { name: 'phone', inputmode: 'tel', autocomplete: 'tel' });
  const name = h('input#p-name', { name: 'name', maxlength: 50, autocomplete: 'name' });
  const photos = h('input#p-photos', { name: 'file', type: 'file', multiple: true, accept: 'image/jpeg,image/png,image/webp,image/gif' });
  const general = h('p.error#p-error', { role: 'alert' });
  const field = (key, label, input, extra) => h('label.field', h('span', label), input, extra || null, errs.slot(key));
  form.append(
    h('h2', t('public.title')), h('p.muted', t('public.intro')),
    h('div.row2', field('kind', t('public.kind'), kind), field('category', t('public.category'), category)),
    field('content', t('public.content'), content, counter),
    field('address', t('public.address'), address),
    h('div.row2', field('phone', t('public.phone'), phone), field('name', t('public.name'), name)),
    field('file', t('public.photos'), photos, h('span.muted', t('public.photos.hint'))),
    general,
    h('div.actions', h('button.primary#p-submit', { type: 'submit' }, t('public.submit')),
      h('a', { href: '/track' }, t('public.track'))));
  main.append(h('div.center', form));
  kind.focus();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errs.clear();
    general.textContent = '';
    const body = { kind: kind.value, category: category.value, content: content.value, address: address.value,
      phone: phone.value.trim(), name: name.value };
    // The same checks the server makes, so most mistakes are named before sending.
    const required = [['kind', body.kind], ['category', body.category], ['content', body.content.trim()],
      ['address', body.address.trim()], ['phone', body.phone]];
    const missing = required.find(([, v]) => !v);
    if (missing) return errs.show(missing[0], t('msg.required', { f: t('field.' + missing[0]) }));
    if (!/^1[3-9]\d{9}$/.test(body.phone) && !/^0\d{2,3}-?\d{7,8}$/.test(body.phone)) return errs.show('phone', t('msg.phone'));
    try {
      const r = await api('POST', '/api/v1/public/requests', body);
      // The photos follow the request, checked by its number and the phone's last four digits.
      let photoNote = null;
      if (photos.files.length) {
        const last4 = body.phone.replace(/\D/g, '').slice(-4);
        try {
          await uploadFiles(`/api/v1/public/requests/${encodeURIComponent(r.number)}/attachments?phone_last4=${last4}`, photos.files, {}, false);
          photoNote = h('p#public-photos-done', t('public.photos.done', { n: photos.files.length }));
        } catch (e) {
          photoNote = h('p.error#public-photos-error', t('public.photos.failed') + errorText(e));
        }
      }
      main.replaceChildren(h('div.center', h('div.card.public-done#public-done',
        h('h2', t('public.done')),
        h('p.big-number#public-number', r.number),
        h('p', t('public.keep')),
        photoNote,
        h('p.muted', fmtInstant(r.submitted_at, true)),
        h('div.actions',
          h('a.button.primary', { href: `/track?number=${encodeURIComponent(r.number)}` }, t('public.track')),
          h('a.button', { href: '/public' }, t('public.another'))))));
    } catch (e) {
      if (e.status === 429) general.textContent = t('public.tooMany');
      else if (!(e.body && e.body.field && errs.show(e.body.field, t('public.err.' + e.body.field, {}, errorText(e))))) {
        general.textContent = errorText(e);
      }
    }
  });
}

function track(main) {
  const params = new URLSearchParams(location.search);
  const form = h('form.card.public-form#track-form', { novalidate: true });
  const errs = fieldErrors(form);
  const number = h('input#t-number', { name: 'number', value: params.get('number') || '', placeholder: '20261122-000123', autocomplete: 'off' });
  const last4 = h('input#t-last4', { name: 'phone_last4', inputmode: 'numeric', maxlength: 4, autocomplete: 'off' });
  const out = h('div#track-result', { role: 'status' });
  form.append(h('h2', t('public.track')),
    h('div.row2', h('label.field', h('span', t('public.number')), number, errs.slot('number')),
      h('label.field', h('span', t('public.last4')), last4, errs.slot('phone_last4'))),
    h('div.actions', h('button.primary#t-submit', { type: 'submit' }, t('public.lookup')), h('a', { href: '/public' }, t('nav.public'))),
    out);
  main.append(h('div.center', form));
  (number.value ? last4 : number).focus();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errs.clear();
    out.replaceChildren();
    const n = number.value.trim();
    const l = last4.value.trim();
    if (!/^\d{8}-\d{6}$/.test(n)) return errs.show('number', t('msg.number'));
    if (!/^\d{4}$/.test(l)) return errs.show('phone_last4', t('msg.last4'));
    try {
      const r = await api('GET', `/api/v1/public/requests/${encodeURIComponent(n)}?phone_last4=${encodeURIComponent(l)}`);
      out.replaceChildren(result(r), publicAttachments(r, l) || '');
    } catch (e) {
      const text = e.status === 404 ? t('public.notFound') : e.status === 429 ? t('public.tooMany') : errorText(e);
      out.replaceChildren(h('p.error#track-error', text));
    }
  });
}

function result(r) {
  const dl = (k, v) => (v ? [h('dt', k), h('dd', v)] : []);
  return h('div.track-result',
    h('h3', r.number, ' ', h('span.badge.stage-' + r.stage + '#track-stage', t('public.stage.' + r.stage, {}, r.stage_label))),
    h('dl',
      dl(t('public.kind'), t('kind.' + r.kind, {}, r.kind_label)),
      dl(t('public.category'), r.category),
      dl(t('public.submitted'), fmtInstant(r.submitted_at, true)),
      dl(t('public.dept'), r.department),
      dl(t('public.outcome'), r.outcome ? t('outcome.' + r.outcome, {}, r.outcome_label) : null)),
    r.reply ? h('div.reply#track-reply', h('b', t('public.reply') + '：'), h('p', r.reply)) : null,
    h('ol.steps', r.steps.map((s) => h('li', { class: s.done ? 'done' : '' }, h('b', t('public.stage.' + s.stage, {}, s.label)), s.at ? h('span.muted', fmtInstant(s.at, true)) : null))));
}
