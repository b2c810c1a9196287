// A page's use of the public API, through the published declarations only (the paths of
// js/tsconfig.json map the package's names to src/*.d.ts, as its "exports" do).
import { VocaFuse, VocaFuseError, type PendingRecording, type VoiceNote } from '@vocafuse/recorder';
import '@vocafuse/recorder/element';

if (VocaFuse.isSupported()) {
  const sdk = new VocaFuse({ tokenEndpoint: '/api/token', onUploaded: (note: VoiceNote) => note.recordingId });
  const control = sdk.addVoiceNote('#record', {
    maxDuration: 30, formats: ['ogg', 'webm', 'wav'],
    onStop: (r) => r.blob.size + r.duration,
    onError: (e) => (e.retryable ? e.userMessage : e.code),
    onStateChange: (s) => s === 'uploaded',
  });
  control.start();
  await sdk.ready;
  const pending: PendingRecording[] = await sdk.retryPending();
  for (const p of pending) if (p.owner === 'self' && p.lastError instanceof VocaFuseError) await sdk.discardPending(p.id);
  const stored: VoiceNote = await sdk.upload(new Blob([]), { metadata: { a: 1 }, onUploadProgress: (p) => p.percent });
  const { goroutines } = await VocaFuse.diagnostics();
  const [first] = await VocaFuse.devices();
  const el = document.createElement('vocafuse-recorder');
  el.sdk = sdk;
  el.addEventListener('vocafuse-stop', (e) => e.detail.peakLevel);
  console.log(stored.id, goroutines, first?.label, el.state, control.state);
}
