// The VocaFuse recorder's PCM sampler, run in the AudioWorkletGlobalScope for the WAV
// fallback: it batches the (already mono) input and posts it to the main thread, where
// the SDK encodes it. On 'flush' it posts what it holds, marked last; on 'pause' what it
// holds, and then nothing until 'resume' (paused time is not in the recording).
class VocaFusePCM extends AudioWorkletProcessor {
  constructor() {
    super();
    this.batch = new Float32Array(4096);
    this.filled = 0;
    this.paused = false;
    this.port.onmessage = (event) => {
      if (event.data === 'flush') this.post(true);
      if (event.data === 'pause') {
        this.paused = true;
        this.post(false);
      }
      if (event.data === 'resume') this.paused = false;
    };
  }

  post(last) {
    const pcm = this.batch.slice(0, this.filled);
    this.filled = 0;
    this.port.postMessage({ pcm, last }, [pcm.buffer]);
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel && !this.paused) {
      for (let i = 0; i < channel.length; i++) {
        this.batch[this.filled++] = channel[i];
        if (this.filled === this.batch.length) this.post(false);
      }
    }
    return true;
  }
}

registerProcessor('vocafuse-pcm', VocaFusePCM);
