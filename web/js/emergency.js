// 可能紧急: the routing preview's emergency proposal, and the operator's answer to it.
// An emergency rule never makes a call urgent by itself: the console shows what it saw
// ("可能紧急: 起火 (matched 厨房起火了)") and the operator confirms (Alt+E), hands the call off
// to 119/110/120 (Alt+T; fire, crime in progress, medical) or dismisses it (Alt+X). The
// choice goes with the saved ticket as `emergency`; intake records it. Also lists the words
// the rule matched and the mentions a guard (negation, past, hypothetical, question) stopped.
// A proposal no rule made (the second opinion learned from labelled calls, `learned`) says so,
// with its probability and the words that weighed most, so the operator knows to check it.
import { lang } from './i18n.js';
import { h } from './dom.js';

const WORDS = {
  zh: {
    title: '可能紧急', matched: '匹配', words: '命中词', learned: '按历史来电判断，把握 {p}%', learnedFrom: '没有规则命中；依据 {n} 条已标注来电学得，请核实', confirm: '确认紧急', handoff: '转接', dismiss: '排除',
    chosen: { confirm: '已确认紧急：保存后按紧急派单', hand_off: '将转接 {n}：保存后记录转接并以转办归档', dismiss: '已排除：按普通诉求派单' },
    pending: '请确认或排除（不确认则转人工派单）', guarded: '守卫拦下',
    guards: { negated: '否定', hypothetical: '假设/担心', past: '过去/已处理', question: '询问' },
    dismissed: '排除后派往',
  },
  en: {
    title: 'Possible emergency', matched: 'matched', words: 'words', learned: 'learned from past calls, {p}% sure', learnedFrom: 'No rule matched; learned from {n} labelled calls: please check', confirm: 'Confirm', handoff: 'Hand off to', dismiss: 'Dismiss',
    chosen: { confirm: 'Confirmed: dispatched as urgent on save', hand_off: 'Hand off to {n}: recorded and closed as transferred on save', dismiss: 'Dismissed: routed as an ordinary call' },
    pending: 'Confirm or dismiss (otherwise it waits for manual dispatch)', guarded: 'Stopped by guards',
    guards: { negated: 'negated', hypothetical: 'hypothetical', past: 'past / handled', question: 'question' },
    dismissed: 'If dismissed',
  },
};
const w = () => WORDS[lang] || WORDS.zh;

// The choice for the call being typed; cleared when the proposal changes or the form resets.
export const emergency = {
  choice: null,
  proposal: null,
  clear() { this.choice = null; this.proposal = null; },
};

function key(p) { return p ? `${p.label}|${p.matched}` : null; }

// The panel for a preview answer (null when nothing was proposed and nothing was stopped).
// `rerender` redraws the preview after a choice.
export function emergencyPanel(preview, rerender, deptName) {
  const d = preview.decision || {};
  const p = d.emergency || null;
  if (key(p) !== key(emergency.proposal)) emergency.choice = null;
  emergency.proposal = p;
  const guarded = (preview.guarded || []).filter((g, i, all) =>
    all.findIndex((o) => o.word === g.word && o.guard === g.guard) === i);
  const stopped = guarded.length
    ? h('p.muted.guarded#emergency-guarded', w().guarded, '：',
      guarded.map((g) => `${g.word}（${w().guards[g.guard] || g.guard}：${g.cue}）`).join('；'))
    : null;
  if (!p) return stopped;
  const choose = (c) => { emergency.choice = emergency.choice === c ? null : c; rerender(); };
  const button = (c, label, kbd) => h('button.small' + (emergency.choice === c ? '.chosen' : ''),
    { type: 'button', id: `emergency-${c.replace('_', '-')}`, onclick: () => choose(c) }, label, h('kbd', kbd));
  const dismissedTo = preview.if_dismissed && preview.if_dismissed.outcome === 'routed'
    ? h('p.muted', w().dismissed, '：', deptName(preview.if_dismissed.lead)) : null;
  const state = emergency.choice
    ? h('p.ok#emergency-choice', w().chosen[emergency.choice].replace('{n}', p.handoff || ''))
    : h('p.warn', w().pending);
  return h('div.emergency#emergency',
    p.learned
      ? h('p.emergency-title#emergency-notice', `${w().title}: ${p.label} (${w().learned.replace('{p}', p.learned.percent)}: ${p.matched})`)
      : h('p.emergency-title#emergency-notice', `${w().title}: ${p.label} (${w().matched} ${p.matched})`),
    p.learned
      ? h('p.muted#emergency-learned', w().learnedFrom.replace('{n}', p.learned.examples))
      : (p.words && p.words.length ? h('p.muted', w().words, '：', p.words.join('、')) : null),
    h('div.row-actions',
      button('confirm', w().confirm, 'Alt+E'),
      p.handoff ? button('hand_off', `${w().handoff} ${p.handoff}`, 'Alt+T') : null,
      button('dismiss', w().dismiss, 'Alt+X')),
    state, dismissedTo, stopped);
}

// Alt+E / Alt+T / Alt+X while a proposal is shown; returns true when the key was ours.
export function emergencyKey(e, rerender) {
  if (!e.altKey || !emergency.proposal) return false;
  const c = { KeyE: 'confirm', KeyT: emergency.proposal.handoff ? 'hand_off' : null, KeyX: 'dismiss' }[e.code];
  if (!c) return false;
  e.preventDefault();
  emergency.choice = emergency.choice === c ? null : c;
  rerender();
  return true;
}
