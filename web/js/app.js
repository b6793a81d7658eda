// The page shell: which page the path names, who may see it, the top bar (navigation,
// language, live state, logout).
import { t, lang, setLang, translateStatic } from './i18n.js';
import { session, post } from './api.js';
import { h, syncClock } from './dom.js';

const PAGES = {
  '/login': { load: () => import('./login.js'), public: true },
  '/console': { load: () => import('./console.js'), roles: ['operator', 'dispatcher', 'supervisor', 'admin'], nav: 'nav.console' },
  '/workbench': { load: () => import('./workbench.js'), roles: ['department'], nav: 'nav.workbench' },
  '/wall': { load: () => import('./wall.js'), roles: ['supervisor', 'admin', 'dispatcher'], nav: 'nav.wall' },
  '/kb': { load: () => import('./kb.js'), roles: ['operator', 'dispatcher', 'department', 'supervisor', 'admin'], nav: 'nav.kb' },
  '/outbox': { load: () => import('./outbox.js'), roles: ['admin'], nav: 'nav.outbox' },
  '/public': { load: () => import('./public.js'), public: true, nav: 'nav.public' },
  '/track': { load: () => import('./public.js'), public: true, nav: 'nav.track' },
};

// /tickets/{number}: where every notification mail links. A department sees it in its
// workbench; the other roles see the ticket on its own with the way to their page.
const TICKET = /^\/tickets\/([^/]+)$/;
const STAFF = ['operator', 'dispatcher', 'department', 'supervisor', 'admin'];
function ticketPage(user) {
  if (user && user.role === 'department') return { ...PAGES['/workbench'], roles: STAFF };
  return { load: () => import('./ticket.js'), roles: STAFF, nav: 'ticket.title' };
}

/** Where a user lands after logging in. */
export function homeFor(user) {
  if (!user) return '/login';
  switch (user.role) {
    case 'department': return '/workbench';
    case 'supervisor': case 'admin': return '/wall';
    default: return '/console';
  }
}

function topbar(path) {
  const user = session.user;
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  for (const [p, page] of Object.entries(PAGES)) {
    if (!page.nav) continue;
    const visible = page.public ? !user || p === path : user && page.roles.includes(user.role);
    if (!visible) continue;
    nav.append(h('a', { href: p, class: p === path ? 'active' : '' }, t(page.nav)));
  }
  if (!user && path !== '/login') nav.append(h('a', { href: '/login' }, t('nav.login')));
  document.getElementById('who').textContent = user ? `${user.display_name}` : '';
  document.getElementById('who').title = user ? `${user.username} · ${user.role}` : '';
  const logout = document.getElementById('logout');
  logout.hidden = !user;
  logout.onclick = async () => {
    try { await post('/api/v1/auth/logout'); } catch (_) { /* already gone */ }
    session.clear();
    location.assign('/login');
  };
}

async function start() {
  setLang(lang);
  translateStatic();
  const select = document.getElementById('lang');
  select.value = lang;
  select.onchange = () => { setLang(select.value); location.reload(); };
  let path = location.pathname.replace(/\/+$/, '') || '/';
  const user = session.user;
  if (path === '/') {
    location.replace(homeFor(user));
    return;
  }
  const linked = TICKET.exec(path);
  const page = linked ? ticketPage(user) : PAGES[path];
  if (!page) { location.replace('/'); return; }
  if (!page.public && !user) {
    location.replace('/login?next=' + encodeURIComponent(path));
    return;
  }
  document.body.dataset.page = linked ? 'ticket' : path.slice(1);
  topbar(linked ? homeFor(user) : path);
  await syncClock();
  setInterval(syncClock, 60000);
  const module = await page.load();
  const main = document.getElementById('app');
  main.replaceChildren();
  await module.mount(main, { path, user, number: linked ? decodeURIComponent(linked[1]) : null });
  document.title = `${t(page.nav || 'login.title')} · ${t('app.title')}`;
}

/** Shows the live connection's state in the top bar. */
export function liveState(on) {
  const el = document.getElementById('live-state');
  el.hidden = false;
  el.className = 'live-state ' + (on ? 'on' : 'off');
  el.textContent = on ? '● ' + t('live.on') : '○ ' + t('live.off');
}

start();
