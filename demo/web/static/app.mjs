import { VocaFuse } from '/sdk/vocafuse.mjs';

const $ = (id) => document.getElementById(id);
const stateText = {
  idle: 'Ready to record',
  requesting: 'Waiting for the microphone…',
  recording: 'Recording — press again to stop',
  processing: 'Finishing the recording…',
  uploading: 'Uploading…',
  uploaded: 'Saved. Press the button to record another.',
  error: 'Something went wrong',
};
const labelText = { recording: 'Stop', requesting: 'Cancel' };

function showState(state) {
  $('state').textContent = stateText[state] || state;
  document.querySelector('#record-btn .label').textContent = labelText[state] || 'Record';
  if (state !== 'recording') $('remaining').textContent = '';
  if (state === 'requesting') $('error').hidden = true;
  $('upload').hidden = state !== 'uploading';
}

if (!VocaFuse.isSupported()) {
  $('state').textContent = 'This browser cannot record voice notes.';
}

const sdk = new VocaFuse({ tokenEndpoint: '/api/token' });
let lastUrl;

sdk.addVoiceNote('#record-btn', {
  onStateChange: showState,
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
  onError: (error) => {
    $('error').textContent = error.userMessage;
    $('error').hidden = false;
    console.warn(error.code, error.message, error.details);
  },
});

sdk.ready.then(() => showState('idle'), (error) => {
  $('state').textContent = error.userMessage;
});
