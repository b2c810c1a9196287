import { VocaFuse } from '/sdk/vocafuse.mjs';

const $ = (id) => document.getElementById(id);
const stateText = {
  idle: 'Ready to record',
  requesting: 'Waiting for the microphone…',
  recording: 'Recording — press again to stop',
  paused: 'Paused — resume, or press the button to stop',
  processing: 'Finishing the recording…',
  uploading: 'Uploading…',
  uploaded: 'Saved. Press the button to record another.',
  error: 'Something went wrong',
};
const labelText = { recording: 'Stop', paused: 'Stop', requesting: 'Cancel' };
const live = (state) => state === 'recording' || state === 'paused';

function showLevel(level) {
  // A -60..0 dBFS scale: speech fills the bar and silence (the SDK's -60 dBFS) reads as empty.
  const db = level > 0 ? 20 * Math.log10(level) : -Infinity;
  const fill = Math.min(1, Math.max(0, (db + 60) / 60));
  // A CSSOM write, which the page's CSP allows (it forbids only inline style in markup).
  $('level').firstElementChild.style.transform = `scaleX(${fill})`;
  $('level').setAttribute('aria-valuenow', String(Math.round(fill * 100)));
}

function showState(state) {
  $('state').textContent = stateText[state] || state;
  document.querySelector('#record-btn .label').textContent = labelText[state] || 'Record';
  if (!live(state)) $('remaining').textContent = '';
  if (state === 'requesting') {
    $('error').hidden = true;
    $('warning').textContent = '';
  }
  $('upload').hidden = state !== 'uploading';

  const pause = $('pause-btn');
  pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
  // Hiding a focused button would drop keyboard focus on the body.
  if (!live(state) && document.activeElement === pause) $('record-btn').focus();
  pause.hidden = !live(state);
  if (!live(state)) {
    $('level').hidden = true;
    showLevel(0);
  }
}

if (!VocaFuse.isSupported()) {
  $('state').textContent = 'This browser cannot record voice notes.';
}

const sdk = new VocaFuse({ tokenEndpoint: '/api/token' });
let lastUrl;

const control = sdk.addVoiceNote('#record-btn', {
  onStateChange: showState,
  onStart: () => {
    // Known only once recording: some browsers give no running AudioContext to measure with.
    $('level').hidden = !control.canMeasureLevel;
  },
  onLevel: showLevel,
  onProgress: ({ remaining }) => {
    $('remaining').textContent = `${Math.ceil(remaining)} s left`;
  },
  onStop: (recording) => {
    // Played from the browser at once; replaced by the stored copy once it is uploaded.
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = URL.createObjectURL(recording.blob);
    $('playback').src = lastUrl;
    $('last-info').textContent = `${recording.duration.toFixed(1)} s · ${recording.format} · not uploaded yet`;
    $('last').hidden = false;
    $('upload').value = 0;
  },
  onUploadProgress: ({ percent }) => {
    $('upload').value = percent;
  },
  onUploaded: (note) => {
    $('playback').src = note.audio_url; // a short-lived signed URL: <audio> cannot send a token
    $('last-info').textContent =
      `${note.duration.toFixed(1)} s · ${note.format} · ${(note.size / 1024).toFixed(1)} KB · stored as ${note.id}`;
  },
  onWarning: (warning) => {
    // SILENT_INPUT: the recording goes on, so this is a polite notice, not an alert.
    $('warning').textContent = warning.userMessage;
    console.warn(warning.code, warning.message, warning.details);
  },
  onError: (error) => {
    // DEVICE_LOST arrives here too; what was recorded is kept and uploads.
    $('error').textContent = error.userMessage;
    $('error').hidden = false;
    console.warn(error.code, error.message, error.details);
  },
});

$('pause-btn').addEventListener('click', () => {
  if (control.state === 'paused') control.resume();
  else control.pause();
});

sdk.ready.then(() => showState('idle'), (error) => {
  $('state').textContent = error.userMessage;
});
