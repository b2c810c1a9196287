// Keeps every track getUserMedia hands out, so tests can check that the SDK stopped them all.
// The prototype is patched, not the navigator.mediaDevices instance: WebKit may not have
// made the instance yet when this runs.
window.openedTracks = [];
const spied = typeof MediaDevices === 'function' ? MediaDevices.prototype : navigator.mediaDevices;
if (spied && spied.getUserMedia) {
  const original = spied.getUserMedia;
  spied.getUserMedia = async function getUserMedia(constraints) {
    const stream = await original.call(this, constraints);
    window.openedTracks.push(...stream.getTracks());
    return stream;
  };
}
window.liveTracks = () => window.openedTracks.filter((t) => t.readyState !== 'ended').length;
