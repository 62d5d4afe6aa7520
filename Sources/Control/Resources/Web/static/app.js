// The dashboard's entry point: the session, the navigation and a hash router (#/monitors,
// #/monitors/42, …). Each view module exports mount(main, params, context) and answers a function
// that unmounts it (stops its timers, requests and listeners).

import { api, currentSession, onSessionChange, setSession } from './api.js';
import { $, template, toast } from './dom.js';
import { clearErrors, busy, showError } from './forms.js';
import { live } from './live.js';

const routes = [
  [/^\/signin$/, () => authView('signin'), { public: true }],
  [/^\/signup$/, () => authView('signup'), { public: true }],
  [/^\/monitors$/, () => import('./monitors.js'), { nav: 'monitors' }],
  [/^\/monitors\/new$/, () => import('./monitor-form.js'), { nav: 'monitors' }],
  [/^\/monitors\/(\d+)$/, () => import('./monitor-detail.js'), { nav: 'monitors' }],
  [/^\/monitors\/(\d+)\/edit$/, () => import('./monitor-form.js'), { nav: 'monitors' }],
  [/^\/channels$/, () => import('./channels.js'), { nav: 'channels' }],
  [/^\/maintenance$/, () => import('./maintenance.js'), { nav: 'maintenance' }],
  [/^\/status-pages$/, () => import('./status-pages.js'), { nav: 'status-pages' }],
  [/^\/status-pages\/new$/, () => import('./status-page-form.js'), { nav: 'status-pages' }],
  [/^\/status-pages\/(\d+)$/, () => import('./status-page-form.js'), { nav: 'status-pages' }],
];

const main = document.getElementById('main');
let unmount = null;
let renderCount = 0;

/** Goes to `hash` (`#/monitors/3`). */
export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/monitors';
  const [path, search = ''] = raw.split('?');
  return { path, query: new URLSearchParams(search) };
}

async function route() {
  const { path, query } = parseHash();
  const match = routes.find(([pattern]) => pattern.test(path));
  if (!match) {
    navigate('#/monitors');
    return;
  }
  const [pattern, load, options] = match;
  const session = currentSession();
  if (!options.public && !session) {
    navigate('#/signin');
    return;
  }
  if (options.public && session) {
    navigate('#/monitors');
    return;
  }
  const ticket = ++renderCount;
  const module = await load();
  if (ticket !== renderCount) return;
  unmount?.();
  unmount = null;
  main.replaceChildren();
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.nav === options.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const params = pattern.exec(path).slice(1);
  unmount = module.mount(main, params, { query, navigate, live }) ?? null;
  // Move focus to the new view (keyboard and screen-reader users start at its heading),
  // except on the first load, where the page itself has focus.
  if (ticket > 1) main.focus({ preventScroll: true });
}

// The sign-in and sign-up views live here: they are small and needed first.
function authView(kind) {
  return {
    mount(root) {
      root.append(template(kind));
      const form = $(root, 'form');
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        clearErrors(form);
        const body = { email: form.elements.email.value.trim(), password: form.elements.password.value };
        if (kind === 'signup') {
          const name = form.elements.name.value.trim();
          if (name) body.name = name;
        }
        await busy(form, async () => {
          try {
            const created = await api('POST', kind === 'signup' ? '/auth/register' : '/auth/login', body);
            setSession(created);
            navigate('#/monitors');
          } catch (error) {
            showError(form, error.code === 'invalid_credentials' ? { ...error, field: null, message: error.message } : error);
          }
        });
      });
      $(root, 'input[name="email"]').focus();
    },
  };
}

function showSession(session) {
  $(document, '#nav').hidden = !session;
  $(document, '#session').hidden = !session;
  $(document, '#user-email').textContent = session ? session.user.name ?? session.user.email : '';
  if (session) live.start(session.token);
  else live.stop();
}

function showMode(mode) {
  const indicator = $(document, '#live');
  indicator.dataset.mode = mode;
  $(indicator, '.live-text').textContent = mode === 'live' ? 'Live' : 'Polling';
  indicator.title =
    mode === 'live' ? 'Live updates over WebSocket' : 'WebSocket unavailable: refreshing every few seconds';
}

$(document, '#sign-out').addEventListener('click', () => {
  setSession(null);
  toast('Signed out.');
});

onSessionChange((session) => {
  showSession(session);
  route();
});
live.on('mode', showMode);
showMode(live.mode);
window.addEventListener('hashchange', route);
document.getElementById('boot')?.remove();
showSession(currentSession());
route();
