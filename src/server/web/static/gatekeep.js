// gatekeep's web page: the only script it runs (served from the binary; the page's CSP
// allows no other and no inline code). Two jobs, both optional: without script the page
// works, it just does not refresh or tick.
//
// 1. Countdowns: every <span data-expires="UNIX"> shows the time left, once a second.
// 2. The inbox refreshes itself: every 5 s it fetches /inbox/list (the same server-rendered,
//    escaped HTML as the page) and swaps the list in. A signed-out session stops it.
'use strict';

function left(seconds) {
  if (seconds <= 0) return 'expired';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return h + 'h ' + m + 'm left';
  if (m > 0) return m + 'm ' + String(s).padStart(2, '0') + 's left';
  return s + 's left';
}

function tick() {
  const now = Math.floor(Date.now() / 1000);
  for (const el of document.querySelectorAll('[data-expires]')) {
    const remaining = Number(el.dataset.expires) - now;
    el.textContent = left(remaining);
    el.classList.toggle('soon', remaining > 0 && remaining < 60);
  }
}

async function refresh() {
  const list = document.getElementById('inbox');
  if (!list) return;
  try {
    const answer = await fetch('/inbox/list', {
      credentials: 'same-origin',
      headers: { accept: 'text/html' },
    });
    if (answer.status === 303 || answer.redirected || !answer.ok) return;
    const doc = new DOMParser().parseFromString(await answer.text(), 'text/html');
    const fresh = doc.getElementById('inbox');
    if (fresh) {
      list.replaceWith(document.adoptNode(fresh));
      tick();
    }
  } catch (_) {
    // Offline for a moment: the next round tries again.
  }
}

tick();
setInterval(tick, 1000);
if (document.getElementById('inbox')) setInterval(refresh, 5000);
