// window.stereoWav(seconds, rate = 48000, seed = 1): a 16-bit stereo WAV Blob of two tones
// (440 and 660 Hz) and a little noise, so that no two parts of it are alike; the seed
// picks the noise (a page that needs each file its own bytes passes a random one). A
// 44-byte header and 4 bytes a frame: 35 s at 48 kHz is 6,720,044 bytes. A classic
// script shared by the test pages that upload files.
window.stereoWav = (seconds, rate = 48000, seed = 1) => {
  const frames = Math.round(seconds * rate);
  const bytes = new Uint8Array(44 + frames * 4);
  const view = new DataView(bytes.buffer);
  const text = (at, s) => [...s].forEach((c, i) => { bytes[at + i] = c.charCodeAt(0); });
  text(0, 'RIFF'); view.setUint32(4, 36 + frames * 4, true); text(8, 'WAVE');
  text(12, 'fmt '); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 2, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 4, true); view.setUint16(32, 4, true); view.setUint16(34, 16, true);
  text(36, 'data'); view.setUint32(40, frames * 4, true);
  for (let i = 0; i < frames; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const noise = ((seed >>> 16) & 0xff) - 128;
    view.setInt16(44 + i * 4, Math.round(6000 * Math.sin(2 * Math.PI * 440 * i / rate)) + noise, true);
    view.setInt16(46 + i * 4, Math.round(6000 * Math.sin(2 * Math.PI * 660 * i / rate)) - noise, true);
  }
  return new Blob([bytes], { type: 'audio/wav' });
};
