// Keeps every track getUserMedia hands out, so tests can check that the SDK stopped them all.
window.openedTracks = [];
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    window.openedTracks.push(...stream.getTracks());
    return stream;
  };
}
window.liveTracks = () => window.openedTracks.filter((t) => t.readyState !== 'ended').length;
