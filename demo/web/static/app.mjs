// The demo page. <vocafuse-recorder> records, uploads and shows its own errors; this script
// lists what the visitor has stored (through the API, with a token from the demo's backend),
// what still waits in the SDK's outbox, and whether the browser is offline.
import { VocaFuse } from '/sdk/vocafuse.mjs';
import '/sdk/vocafuse-recorder.mjs';

const $ = (id) => document.getElementById(id);
const recorder = document.querySelector('vocafuse-recorder');

// Our own instance rather than the element's default one, for its SDK-level onUploaded: it
// hears every delivery, recordings left in the outbox by an earlier visit included. Set in
// the same task as the import, before the element makes a default instance.
const sdk = new VocaFuse({
  tokenEndpoint: recorder.getAttribute('token-endpoint'),
  onUploaded: (note) => {
    addNote(note);
    refreshOutbox();
  },
  onRecovered: () => refreshOutbox(),
  // A journal that could not be rebuilt (AUDIO_PROCESSING_FAILED): said once; the outbox goes on.
  onError: (error) => showPageError('A recording from an earlier visit could not be saved.', error),
});
recorder.sdk = sdk;

// Errors of the SDK itself, outside any recording (the element shows those of a recording).
function showPageError(title, error) {
  $('page-error').querySelector('.page-error-title').textContent = title;
  $('page-error').querySelector('.page-error-message').textContent = error.userMessage;
  $('page-error').hidden = false;
}

// ---- Talking to the API ----

// An error the page can show: the API's envelope (docs/api.md) turned into words.
class PageError extends Error {
  constructor(userMessage, status, code) {
    super(userMessage);
    this.status = status;
    this.code = code;
  }
}

function explain(status, code, details) {
  if (code === 4003) return `Too many requests. Try again in ${details?.retry_after ?? 'a few'} seconds.`;
  if (code === 6001) return 'That note no longer exists.';
  if (status === 401 || status === 403) return 'Your session could not be checked. Reload the page to try again.';
  if (status >= 500) return 'The voice-note service is having trouble. Try again in a moment.';
  return 'Something went wrong while talking to the voice-note service.';
}

async function request(url, init) {
  let res;
  try {
    res = await fetch(url, { credentials: 'same-origin', ...init });
  } catch {
    throw new PageError("Can't reach the server. Check your connection and try again.");
  }
  if (res.status === 204) return null;
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = body?.error ?? {};
    throw new PageError(explain(res.status, error.code, error.details), res.status, error.code);
  }
  return body;
}

// The list and delete calls need a token too. One from the demo's backend is kept in memory
// for 80 % of its lifetime, and concurrent callers share one request.
let token = null;
function bearer(fresh) {
  if (fresh || !token || Date.now() >= token.until) {
    const entry = { until: Infinity };
    entry.value = request('/api/token', { method: 'POST' }).then((body) => {
      entry.until = Date.now() + body.expires_in * 800;
      return body.token;
    });
    entry.value.catch(() => { if (token === entry) token = null; });
    token = entry;
  }
  return token.value;
}

async function api(path, init = {}, fresh = false) {
  const headers = { Authorization: `Bearer ${await bearer(fresh)}` };
  try {
    return await request(path, { ...init, headers });
  } catch (error) {
    // An expired token (1002) gets one fresh token and one more try, as the SDK does.
    if (error.status === 401 && !fresh) return api(path, init, true);
    throw error;
  }
}

// ---- Formatting ----

const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const sameDay = (a, b) => a.toDateString() === b.toDateString();

function when(iso, capital = false) {
  const date = new Date(iso);
  if (!sameDay(date, new Date())) return dateAndTime.format(date);
  return `${capital ? 'Today' : 'today'}, ${timeOnly.format(date)}`;
}

// Whole seconds as players show them (rounded down), but never 0:00 for a note that has sound.
function clock(seconds) {
  const whole = Math.max(1, Math.floor(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

const size = (bytes) => `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// One polite live region for what happens out of sight: a deletion, a delivery.
function announce(text) {
  $('announce').textContent = '';
  requestAnimationFrame(() => { $('announce').textContent = text; });
}

// ---- Your notes ----

const list = $('notes-list');
let nextPage = 0; // the API's numbered pages, from 0

function noteItem(note) {
  const item = $('note-template').content.firstElementChild.cloneNode(true);
  const label = `${clock(note.duration)} note from ${when(note.created_at)}`;
  item.dataset.id = note.id;
  const time = item.querySelector('time');
  time.dateTime = note.created_at;
  time.textContent = when(note.created_at, true);
  item.querySelector('.note-meta').textContent =
    `${clock(note.duration)} · ${size(note.size)} · ${note.format.toUpperCase()}`;
  const audio = item.querySelector('audio');
  audio.src = note.audio_url; // a short-lived signed URL: <audio> cannot send a token
  audio.setAttribute('aria-label', `Play the ${label}`);
  // An audio_url expires; a player left on the page asks for a fresh one, once.
  audio.addEventListener('error', async () => {
    if (audio.dataset.renewed) return;
    audio.dataset.renewed = 'yes';
    const fresh = await api(`/v1/voicenotes/${note.id}`).catch(() => null);
    if (fresh) audio.src = fresh.data.audio_url;
  });
  item.querySelector('.delete-what').textContent = ` the ${label}`;
  item.querySelector('.delete').addEventListener('click', (event) => remove(item, note, event.currentTarget));
  return item;
}

function showNotesState() {
  const empty = list.children.length === 0;
  $('notes-status').textContent = empty ? 'No notes yet. Record one and it shows up here.' : '';
  $('notes-status').classList.toggle('empty', empty);
}

// Newest first, as the API lists them; a note the page already shows is not added twice
// (the SDK-level and the control's onUploaded both report the element's recordings).
function addNote(note) {
  if (list.querySelector(`[data-id="${CSS.escape(note.id)}"]`)) return;
  list.prepend(noteItem(note));
  showNotesState();
  announce(`Saved the ${clock(note.duration)} note.`);
}

async function loadNotes(more = false) {
  $('notes').setAttribute('aria-busy', 'true');
  $('notes-error').hidden = true;
  const params = new URLSearchParams({ page: String(more ? nextPage : 0), limit: '20' });
  try {
    const page = await api(`/v1/voicenotes?${params}`);
    // A note recorded since the first page moves the later pages down: one already
    // shown is not shown twice.
    const shown = (note) => more && list.querySelector(`[data-id="${CSS.escape(note.id)}"]`);
    const items = page.data.filter((note) => !shown(note)).map(noteItem);
    if (more) list.append(...items);
    else list.replaceChildren(...items);
    nextPage = page.pagination.page + 1;
    $('load-more').hidden = !page.pagination.has_more;
    showNotesState();
    return items;
  } catch (error) {
    $('notes-status').textContent = '';
    $('notes-error').querySelector('.notes-error-message').textContent = `Your notes could not be loaded. ${error.message}`;
    $('notes-error').hidden = false;
    return [];
  } finally {
    $('notes').setAttribute('aria-busy', 'false');
  }
}

async function remove(item, note, button) {
  button.disabled = true;
  item.querySelector('.note-error').textContent = '';
  try {
    await api(`/v1/voicenotes/${note.id}`, { method: 'DELETE' });
  } catch (error) {
    if (error.code !== 6001) { // already gone is what was asked for
      button.disabled = false;
      button.focus();
      item.querySelector('.note-error').textContent = `Not deleted. ${error.message}`;
      return;
    }
  }
  // Focus goes to the next note's Delete (or the heading), not to the page's start.
  const next = item.nextElementSibling ?? item.previousElementSibling;
  item.remove();
  (next?.querySelector('.delete') ?? $('notes-title')).focus();
  showNotesState();
  announce('Note deleted.');
}

$('notes-retry').addEventListener('click', () => loadNotes());
$('load-more').addEventListener('click', async () => {
  const added = await loadNotes(true);
  // The button hides after the last page: focus goes to the first note it brought.
  if ($('load-more').hidden) added[0]?.querySelector('.delete')?.focus();
});

// ---- Waiting to send ----

// The recording the element is sending right now has its own progress bar there; it is
// listed here once an attempt has failed, or when there is no connection to send it on.
let sending = null;
recorder.addEventListener('vocafuse-stop', (event) => {
  sending = event.detail.id;
  refreshOutbox();
});
recorder.addEventListener('vocafuse-statechange', (event) => {
  if (!['processing', 'uploading'].includes(event.detail)) sending = null;
});
recorder.addEventListener('vocafuse-error', () => refreshOutbox());

function pendingText(p) {
  const what = `${clock(p.duration)} recording · ${size(p.size)}`;
  if (p.owner === 'other') {
    return [what, 'Recorded in another visitor session of this browser. It is sent when that session is back.'];
  }
  const tries = p.attempts ? ` Tried ${plural(p.attempts, 'time')}.` : '';
  const why = p.lastError?.userMessage ?? (navigator.onLine ? 'Not sent yet.' : 'Waiting for the connection.');
  const held = p.held ? ' The server refused it; Send now tries again.' : '';
  const recovered = p.recovered ? ' Saved from a page that closed while recording.' : '';
  return [what, `${why}${tries}${held}${recovered}`];
}

// The SDK retries in the background and a failed attempt fires no event, so while anything
// waits the list is read again every few seconds (from IndexedDB).
// sdk.pending() asks for a token when the SDK has none: the chain starts after the page's
// first token request, which sets the visitor's cookie (two cookie-less requests at once
// would make two visitors, and the list would not show what the SDK uploads).
let poll = null;
let refreshing = bearer().catch(() => {});
function refreshOutbox() {
  refreshing = refreshing.then(async () => {
    const pending = (await sdk.pending().catch(() => []))
      .filter((p) => p.id !== sending || p.attempts > 0 || !navigator.onLine);
    $('pending-list').replaceChildren(...pending.map((p) => {
      const item = $('pending-template').content.firstElementChild.cloneNode(true);
      item.dataset.id = p.id;
      [item.querySelector('.pending-what').textContent, item.querySelector('.pending-why').textContent] = pendingText(p);
      item.classList.toggle('has-error', Boolean(p.lastError));
      return item;
    }));
    const wasHidden = $('outbox').hidden;
    const focusInside = $('outbox').contains(document.activeElement);
    $('outbox').hidden = pending.length === 0;
    if (wasHidden && pending.length) announce(`${plural(pending.length, 'recording')} waiting to send.`);
    // Sent in the background while "Send now" had focus: it must not fall to the body.
    if (!wasHidden && !pending.length && focusInside) $('notes-title').focus();
    clearTimeout(poll);
    if (pending.length) poll = setTimeout(refreshOutbox, 5000);
  }).catch((error) => console.warn('outbox', error)); // one failed read must not end the chain
  return refreshing;
}

$('send-now').addEventListener('click', async () => {
  const button = $('send-now');
  button.disabled = true;
  button.textContent = 'Sending…';
  let left = [];
  try {
    left = await sdk.retryPending();
  } catch (error) {
    announce(error.userMessage);
  }
  await Promise.all([refreshOutbox(), loadNotes()]);
  button.disabled = false;
  button.textContent = 'Send now';
  if ($('outbox').hidden) {
    $('notes-title').focus(); // the section (and the button) went away
    announce('Everything was sent.');
  } else {
    button.focus();
    announce(`${plural(left.length, 'recording')} still waiting. ${left[0]?.lastError?.userMessage ?? ''}`);
  }
});

// ---- Online, offline ----

function showConnection() {
  $('offline').querySelector('.offline-text').hidden = navigator.onLine;
  document.documentElement.classList.toggle('is-offline', !navigator.onLine);
  refreshOutbox();
  if (navigator.onLine && !$('notes-error').hidden) loadNotes();
}
addEventListener('online', showConnection);
addEventListener('offline', showConnection);

// ---- Start ----

sdk.ready.then(() => {
  document.documentElement.dataset.recorder = 'ready';
}, (error) => {
  // NOT_SUPPORTED, NETWORK_ERROR: said once, by the page (the element's own line is hidden).
  document.documentElement.dataset.recorder = 'failed';
  showPageError('The recorder could not start.', error);
});

showConnection();
loadNotes();
