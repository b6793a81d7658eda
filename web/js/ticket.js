// 工单详情: the one ticket a notification mail links to (/tickets/{number}), for the roles
// whose page has no ticket queue to select it in — its details, clocks and full history,
// and the way on to the role's own page. A department sees the link in its workbench.
import { t } from './i18n.js';
import { h, errorText } from './dom.js';
import { departmentNames, linkedTicket, missingNote, detailCard, historyPanel } from './tickets.js';
import { homeFor } from './app.js';

const PAGE_NAMES = { '/console': 'nav.console', '/workbench': 'nav.workbench', '/wall': 'nav.wall' };

export async function mount(main, { user, number }) {
  const home = homeFor(user);
  const box = h('section.card.detail-card#ticket-page', h('p.muted', t('common.loading')));
  main.append(box);
  const onward = h('p.actions', h('a.button.primary#ticket-home', { href: home }, t('ticket.goto', { page: t(PAGE_NAMES[home]) })));
  let ticket;
  try {
    ticket = await linkedTicket(number);
  } catch (e) {
    box.replaceChildren(h('p.error', errorText(e)), onward);
    return;
  }
  if (!ticket) {
    box.replaceChildren(missingNote(), onward);
    return;
  }
  await departmentNames(); // the card names departments by their short names
  const history = await historyPanel(ticket.id);
  box.replaceChildren(detailCard(ticket), h('h4', t('common.history')), history, onward);
}
