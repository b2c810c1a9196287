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
  constructor(userMessage, status, code, details) {
    super(userMessage);
    this.status = status;
    this.code = code;
    this.details = details;
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
    throw new PageError(explain(res.status, error.code, error.details), res.status, error.code, error.details);
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

// One polite live region for what happens out of sight: a deletion, a delivery, a transcript.
// What is said in the same frame is said together rather than the last replacing the rest.
let announcing = null;
function announce(text) {
  if (announcing) {
    announcing.push(text);
    return;
  }
  announcing = [text];
  $('announce').textContent = '';
  requestAnimationFrame(() => {
    $('announce').textContent = announcing.join(' ');
    announcing = null;
  });
}

// ---- Your notes ----

const list = $('notes-list');
let nextPage = 0; // the API's numbered pages, from 0

function noteItem(note) {
  const item = $('note-template').content.firstElementChild.cloneNode(true);
  const label = `${clock(note.duration)} note from ${when(note.created_at)}`;
  item.dataset.id = note.id;
  item.dataset.label = `${clock(note.duration)} note`;
  const time = item.querySelector('time');
  time.dateTime = note.created_at;
  time.textContent = when(note.created_at, true);
  item.querySelector('.note-meta').textContent =
    `${clock(note.duration)} · ${size(note.size)} · ${note.format.toUpperCase()}`;
  // The player reads the file's head for its length; until it has, or where the file carries
  // none (a WebM straight from MediaRecorder), the length the API measured stands beside it.
  const length = item.querySelector('.note-length');
  length.textContent = clock(note.duration);
  const audio = item.querySelector('audio');
  audio.addEventListener('durationchange', () => { length.hidden = Number.isFinite(audio.duration); });
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
  // A note the API has finished with shows its transcript once it comes near the viewport;
  // any other (a fresh upload says "uploaded") is being transcribed.
  showTranscript(item, ['transcribed', 'failed'].includes(note.status) ? 'waiting' : 'processing');
  nearby.observe(item);
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
  pollDelay = POLL;
  checkTranscripts(POLL); // it has only just arrived: its first look comes a little later
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
    else {
      for (const old of list.children) nearby.unobserve(old);
      list.replaceChildren(...items);
    }
    checkTranscripts(0);
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
  nearby.unobserve(item);
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

// ---- Transcripts ----

// The API transcribes every note in the background: its status is "processing", then
// "transcribed" or "failed". One timer for the whole list asks which of the notes shown are
// still processing (a single list request, however many there are), then fetches the
// transcription of each that has finished. The API allows a visitor 100 requests a minute:
// the timer slows down while nothing changes, backs off on errors, stops when nothing is
// processing and while the page is hidden. Notes that were finished when listed fetch their
// transcript only once they come near the viewport, so a long list costs no burst of requests.

const POLL = 1500; // ms between looks while something is processing, at first
const POLL_MAX = 6000; // … growing to this while nothing changes
const BACKOFF_MAX = 60_000;
const TRANSCRIPT_WORDS = 30; // said of a new transcript; the list shows all of it

const NO_SPEECH = 'No words were recognised in this note.';
const NOT_TRANSCRIBED = 'This note could not be transcribed.';

// Notes this page has shown as "Transcribing…": how theirs ended is announced, once.
const transcribing = new Set();
const near = new WeakSet();
const nearby = new IntersectionObserver((entries) => {
  let due = false;
  for (const entry of entries) {
    if (entry.isIntersecting) {
      near.add(entry.target);
      due ||= entry.target.dataset.transcript === 'waiting';
    } else {
      near.delete(entry.target);
    }
  }
  if (due) checkTranscripts(0);
}, { rootMargin: '100% 0px' }); // a screen ahead either way

// The item's transcript line: "processing" (Transcribing…), "waiting" (finished, not fetched
// yet), "transcribed" (its text and confidence), "failed" (why, in words), "gone" (hidden).
function showTranscript(item, state, transcript = {}) {
  const line = item.querySelector('.transcript');
  const text = transcript.text?.trim() ?? '';
  const heardNothing = state === 'transcribed' && !text; // shown as the failure it is
  if (heardNothing) state = 'failed';
  item.dataset.transcript = state;
  delete item.dataset.finished;
  if (state === 'processing') {
    transcribing.add(item.dataset.id);
    line.textContent = 'Transcribing…';
  } else if (state === 'waiting') {
    line.textContent = 'Loading the transcript…';
  } else if (state === 'transcribed') {
    const label = Object.assign(document.createElement('span'), { className: 'visually-hidden', textContent: 'Transcript: ' });
    const words = Object.assign(document.createElement('span'), { className: 'transcript-text', textContent: text });
    if (transcript.language) words.lang = transcript.language;
    line.replaceChildren(label, words);
    if (Number.isFinite(transcript.confidence)) {
      const sure = Object.assign(document.createElement('span'), { className: 'transcript-confidence' });
      sure.textContent = `${Math.round(transcript.confidence * 100)}% confidence`;
      line.append(' ', sure);
    }
  } else if (state === 'failed') {
    line.textContent = heardNothing || /no speech|no words/i.test(transcript.reason ?? '') ? NO_SPEECH : NOT_TRANSCRIBED;
  } else {
    line.textContent = '';
  }
  if (state === 'processing' || state === 'waiting' || !transcribing.delete(item.dataset.id)) return null;
  // The note was seen transcribing: what came of it, for the live region.
  const what = `the ${item.dataset.label}`;
  if (state === 'gone') return null;
  if (state === 'failed') {
    return line.textContent === NO_SPEECH ? `No words were recognised in ${what}.` : `The ${item.dataset.label} could not be transcribed.`;
  }
  const words = text.split(/\s+/);
  const said = words.length > TRANSCRIPT_WORDS ? `${words.slice(0, TRANSCRIPT_WORDS).join(' ')}…` : text;
  return `Transcript of ${what}: ${said}`;
}

// The transcription of one finished note (or, 6002, word that it is not finished after all).
async function fetchTranscript(item) {
  item.dataset.fetching = '';
  try {
    const body = await api(`/v1/voicenotes/${encodeURIComponent(item.dataset.id)}/transcription`);
    return showTranscript(item, 'transcribed', body.data ?? body);
  } catch (error) {
    if (error.code === 3003) return showTranscript(item, 'failed', { reason: error.details?.reason });
    if (error.code === 6002) return showTranscript(item, 'processing');
    if (error.code === 6001) return showTranscript(item, 'gone'); // deleted elsewhere
    throw error;
  } finally {
    delete item.dataset.fetching;
  }
}

let checkTimer = null;
let checkAt = Infinity; // when checkTimer fires
let checking = false;
let checkAgain = false;
let pollDelay = POLL;
let failures = 0;

// Looks again in `delay` ms, unless a look is due sooner already. Nothing while the page is
// hidden: visibilitychange looks again when it is back.
function checkTranscripts(delay) {
  if (document.hidden) return;
  if (checking && delay === 0) {
    checkAgain = true;
    return;
  }
  if (checkTimer !== null && checkAt <= Date.now() + delay) return;
  clearTimeout(checkTimer);
  checkAt = Date.now() + delay;
  checkTimer = setTimeout(lookAtTranscripts, delay);
}

function stopChecking() {
  clearTimeout(checkTimer);
  checkTimer = null;
  checkAt = Infinity;
}

async function lookAtTranscripts() {
  stopChecking();
  if (document.hidden || checking) return;
  checking = true;
  const said = [];
  let failed = null;
  try {
    const items = () => [...list.children];
    const processing = items().filter((li) => li.dataset.transcript === 'processing' && !('finished' in li.dataset));
    if (processing.length) {
      const params = new URLSearchParams({ status: 'processing', page: '0', limit: '100' });
      const page = await api(`/v1/voicenotes?${params}`);
      const still = new Set(page.data.map((note) => note.id));
      // A note missing from a partial answer may be on a later page: it is asked about again.
      const finished = page.pagination?.has_more ? [] : processing.filter((li) => !still.has(li.dataset.id));
      for (const li of finished) li.dataset.finished = '';
      pollDelay = finished.length ? POLL : Math.min(Math.round(pollDelay * 1.2), POLL_MAX);
    }
    // The transcripts to fetch: those just finished, wherever they are, and the others near
    // the viewport. A few at a time.
    const due = items().filter((li) => !('fetching' in li.dataset) && ('finished' in li.dataset
      || (li.dataset.transcript === 'waiting' && (near.has(li) || transcribing.has(li.dataset.id)))));
    for (let i = 0; i < due.length; i += 4) {
      const outcomes = await Promise.allSettled(due.slice(i, i + 4).map(fetchTranscript));
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled' && outcome.value) said.push(outcome.value);
        else if (outcome.status === 'rejected') failed ??= outcome.reason;
      }
    }
  } catch (error) {
    failed = error;
  } finally {
    checking = false;
  }
  // Several at once (notes stored elsewhere, a reload): one short sentence rather than all.
  if (said.length > 2) announce(`${said.length} notes have finished transcribing.`);
  else if (said.length) announce(said.join(' '));
  const left = [...list.children].some((li) => li.dataset.transcript === 'processing'
    || (li.dataset.transcript === 'waiting' && (near.has(li) || transcribing.has(li.dataset.id))));
  if (failed) {
    failures += 1;
    console.warn('transcripts', failed.message);
    const retryAfter = failed.code === 4003 ? Number(failed.details?.retry_after) * 1000 : 0;
    if (left) checkTranscripts(Math.min(BACKOFF_MAX, Math.max(retryAfter || 0, POLL * 2 ** failures)));
    return;
  }
  failures = 0;
  if (checkAgain) {
    checkAgain = false;
    checkTranscripts(0);
  } else if (left) {
    checkTranscripts(pollDelay);
  }
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) stopChecking();
  else checkTranscripts(0);
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
  else if (navigator.onLine && failures) {
    failures = 0; // back online: look now rather than at the end of a back-off
    checkTranscripts(0);
  }
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
