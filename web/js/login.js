// 登录: username and password → a token kept in this browser, then the role's page.
import { t } from './i18n.js';
import { api, session } from './api.js';
import { h, errorText } from './dom.js';
import { homeFor } from './app.js';

export function mount(main) {
  const username = h('input#username', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input#password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = h('p.error#login-error', { role: 'alert' });
  const form = h('form.card.login', { onsubmit: submit },
    h('h2', t('login.title')),
    h('label.field', h('span', t('login.username')), username),
    h('label.field', h('span', t('login.password')), password),
    message,
    h('button.primary#login-submit', { type: 'submit' }, t('login.submit')),
    h('p', h('a', { href: '/public' }, t('login.public'))));
  main.append(h('div.center', form));
  username.focus();

  async function submit(ev) {
    ev.preventDefault();
    message.textContent = '';
    try {
      const r = await api('POST', '/api/v1/auth/login', { username: username.value.trim(), password: password.value });
      session.save(r.token, r.user);
      location.assign(sameOriginPath(new URLSearchParams(location.search).get('next'), location.origin) || homeFor(r.user));
    } catch (e) {
      message.textContent = e.status === 401 ? t('login.failed') : errorText(e);
      password.select();
    }
  }
}

// Where `next` may send the browser after login: a path on this site, never another site.
// `//evil.example/`, `/\\evil.example`, `https://evil.example` and `javascript:` all resolve
// to another origin (or none) and are refused; the answer is the path, query and fragment
// only, so nothing but this origin is ever assigned.
export function sameOriginPath(next, origin) {
  if (!next || !next.startsWith('/')) return null;
  let url;
  try { url = new URL(next, origin); } catch { return null; }
  if (url.origin !== origin) return null;
  return url.pathname + url.search + url.hash;
}
