//go:build js && wasm

package browser

import (
	"syscall/js"
	"time"

	"github.com/hack-pad/safejs"

	"github.com/vocafuse/recorder/internal/audio/wav"
	"github.com/vocafuse/recorder/internal/catalog"
)

// The WAV fallback: where MediaRecorder makes neither webm nor ogg (Safari), or the page
// asks for wav, the stream is captured as PCM through Web Audio and encoded in Go.

const (
	wavRate       = 16000                  // what the voice note is stored at
	flushDeadline = 500 * time.Millisecond // how long stop waits for the worklet's last samples
	workletName   = "vocafuse-pcm"         // registered by vocafuse-worklet.js
)

// pcmSupported: this browser has Web Audio with a way to read samples.
func pcmSupported() bool {
	ctor, err := safejs.Global().Get("AudioContext")
	if err != nil || ctor.Type() != safejs.TypeFunction {
		return false
	}
	proto, err := ctor.Get("prototype")
	return err == nil && (isFunction(safejs.Global(), "AudioWorkletNode") || isFunction(proto, "createScriptProcessor"))
}

// newAudioContext makes an AudioContext and asks it to run; undefined where there is none.
func newAudioContext() safejs.Value {
	ctor, err := safejs.Global().Get("AudioContext")
	if err != nil || ctor.Type() != safejs.TypeFunction {
		return safejs.Undefined()
	}
	audio, err := ctor.New()
	if err != nil {
		return safejs.Undefined() // too many contexts, or none allowed: the take records without levels, or says PCM cannot start
	}
	// Only a request during the click: audioRuns asks again and waits for the answer.
	_, _ = audio.Call("resume")
	return audio
}

// pcmGraph is the Web Audio graph of a capture: microphone → sampler → destination.
type pcmGraph struct {
	audio    safejs.Value // the take's AudioContext, which the take closes
	source   safejs.Value
	sampler  safejs.Value // AudioWorkletNode, or a ScriptProcessorNode where worklets are missing
	port     safejs.Value // the worklet's MessagePort; undefined for a ScriptProcessor
	rate     int
	b        boundary
	unlisten func()
}

// pcmCapture is touched only on the control's loop, except build, which runs on its own
// goroutine and hands its graph over through the loop.
type pcmCapture struct {
	c       *Control
	n       int
	t       *take
	graph   *pcmGraph
	enc     *wav.Encoder
	chunks  js.Value // an Array of the PCM's Blobs, a second each, that the encoder has let go of
	aborted bool
	done    bool
	paused  bool // samples a ScriptProcessor delivers now are dropped (a worklet stops sending)
}

func (c *Control) startPCM(n int, t *take) capture {
	pc := &pcmCapture{c: c, n: n, t: t, chunks: js.Global().Get("Array").New()}
	c.b.spawn(func() {
		graph, err := c.buildPCMGraph(t.audio, t.stream, func(samples []byte, last bool) {
			c.loop.post(func() { pc.samples(samples, last) })
		})
		c.loop.post(func() { pc.built(graph, err) })
	})
	return pc
}

func (pc *pcmCapture) built(graph *pcmGraph, err error) {
	if err == nil {
		pc.enc, err = wav.NewEncoder(graph.rate, wavRate)
	}
	if err != nil || pc.aborted {
		if graph != nil {
			graph.close()
		}
		pc.c.settled(pc.n, pc.t)
		if err != nil && !pc.aborted {
			pc.c.machine.Fail(pc.n, mediaFailure("Web Audio", err, time.Now()))
		}
		return
	}
	// Samples that arrive after the limit are dropped, so the WAV is never longer.
	pc.enc.SetLimit(int(pc.c.limitSeconds * wavRate))
	pc.graph = graph
	pc.c.captureStarted(pc.n, pc.t)
}

func (pc *pcmCapture) samples(b []byte, last bool) {
	if pc.done || pc.enc == nil || (pc.paused && !last && pc.graph.port.IsUndefined()) {
		return
	}
	pc.enc.WriteLE32(b)
	if chunk, ok := pc.t.journalPCM(pc.enc); ok {
		pc.chunks.Call("push", safejs.Unsafe(chunk))
	}
	if last {
		pc.finish()
	}
}

// pause stops the samples: the worklet sends what it holds and then nothing until
// resume, so the WAV has no paused time, not even as silence.
func (pc *pcmCapture) pause() {
	pc.paused = true
	pc.tell("pause")
}

func (pc *pcmCapture) resume() {
	pc.paused = false
	pc.tell("resume")
}

// tell posts a command to the worklet. One it did not get leaves the WAV with paused
// time in it, or without its end: the take fails.
func (pc *pcmCapture) tell(command string) bool {
	if pc.graph == nil || pc.graph.port.IsUndefined() {
		return true
	}
	if err := callMethod(pc.graph.port, "postMessage", command); err != nil {
		pc.c.fail(pc.n, mediaFailure("Web Audio", err, time.Now()))
		return false
	}
	return true
}

// stop asks the worklet for the samples it still holds; finish runs when they arrive,
// or at the deadline.
func (pc *pcmCapture) stop() {
	if pc.graph == nil || pc.done {
		return
	}
	if pc.graph.port.IsUndefined() {
		pc.finish()
		return
	}
	if pc.tell("flush") {
		pc.c.b.after(flushDeadline, func() { pc.c.loop.post(pc.finish) })
	}
}

func (pc *pcmCapture) finish() {
	if pc.done {
		return
	}
	pc.done = true
	pc.graph.close()
	blob, err := pc.file(pc.enc.Finish())
	pc.enc, pc.chunks = nil, js.Undefined()
	if err != nil {
		pc.c.settled(pc.n, pc.t)
		pc.c.machine.Fail(pc.n, mediaFailure("WAV", err, time.Now()))
		return
	}
	pc.c.captureFinished(pc.n, pc.t, blob, "audio/wav")
}

func (pc *pcmCapture) abort() {
	pc.aborted = true
	if pc.graph == nil || pc.done {
		return // built() or finish() settles the take
	}
	pc.done = true
	pc.graph.close()
	pc.enc, pc.chunks = nil, js.Undefined()
	pc.c.settled(pc.n, pc.t)
}

// file joins the WAV in JavaScript: the header (the start of finished), the chunks made
// on the way, and the last samples (the rest of finished), which go to the journal too:
// it then rebuilds this very file.
func (pc *pcmCapture) file(finished []byte) (safejs.Value, error) {
	head, err := bytesToJS(finished[:wav.HeaderSize])
	if err != nil {
		return head, err
	}
	tail, err := bytesToJS(finished[wav.HeaderSize:])
	if err != nil {
		return tail, err
	}
	pc.t.journalChunk(tail)
	pc.chunks.Call("unshift", safejs.Unsafe(head))
	pc.chunks.Call("push", safejs.Unsafe(tail))
	return newBlob(safejs.Safe(pc.chunks), "audio/wav")
}

// buildPCMGraph connects the stream to a sampler that hands over mono float32 samples
// (as little-endian bytes) through onSamples, in audio, a running AudioContext. It
// awaits the worklet module, so it runs on a goroutine of its own.
func (c *Control) buildPCMGraph(audio, stream safejs.Value, onSamples func(b []byte, last bool)) (g *pcmGraph, err error) {
	g = &pcmGraph{audio: audio, port: safejs.Undefined(), b: c.b}
	defer func() {
		if err != nil {
			g.close()
			g = nil
		}
	}()
	rate, err := g.audio.Get("sampleRate")
	if err != nil {
		return g, err
	}
	if g.rate, err = rate.Int(); err != nil {
		return g, err
	}
	if g.source, err = g.audio.Call("createMediaStreamSource", stream); err != nil {
		return g, jsError(err)
	}
	worklet, err := g.audio.Get("audioWorklet")
	if err != nil {
		return g, jsError(err)
	}
	if worklet.Type() == safejs.TypeObject && isFunction(safejs.Global(), "AudioWorkletNode") {
		err = g.loadWorklet(worklet, c.workletURL)
		switch {
		case err == nil:
			err = g.useWorklet(onSamples)
		case isFunction(g.audio, "createScriptProcessor"):
			// The module could not be fetched (the page offline, its server down: WebKit and
			// Safari record WAV, so their click needs it): the ScriptProcessor takes the same
			// samples on the main thread, and the take goes on.
			err = g.useScriptProcessor(onSamples)
		}
	} else {
		err = g.useScriptProcessor(onSamples)
	}
	if err != nil {
		return g, err
	}
	if err = callMethod(g.source, "connect", g.sampler); err != nil {
		return g, err
	}
	// The sampler must reach the destination to be pulled; it outputs silence.
	dest, err := g.audio.Get("destination")
	if err != nil {
		return g, jsError(err)
	}
	return g, callMethod(g.sampler, "connect", dest)
}

func (g *pcmGraph) loadWorklet(worklet safejs.Value, url string) error {
	promise, err := worklet.Call("addModule", url)
	if err != nil {
		return jsError(err)
	}
	if _, err := g.b.awaitWithin(promise, 10*time.Second); err != nil {
		return catalog.Newf(catalog.NotSupported, map[string]any{"reason": "the audio worklet could not be loaded"},
			time.Now(), "loading %s: %v", url, err)
	}
	return nil
}

func (g *pcmGraph) useWorklet(onSamples func([]byte, bool)) (err error) {
	// The browser mixes the microphone down to one channel before the worklet sees it.
	opts := must(safejs.ValueOf(map[string]any{
		"numberOfInputs": 1, "numberOfOutputs": 1, "outputChannelCount": []any{1},
		"channelCount": 1, "channelCountMode": "explicit", "channelInterpretation": "speakers",
	}))
	if g.sampler, err = global("AudioWorkletNode").New(g.audio, workletName, opts); err != nil {
		return jsError(err)
	}
	if g.port, err = g.sampler.Get("port"); err != nil {
		return jsError(err)
	}
	// The worklet's messages are { pcm: Float32Array, last: boolean }: reading them cannot fail.
	release, err := g.b.listen(g.port, "message", func(ev safejs.Value) {
		data := prop(ev, "data")
		onSamples(float32Bytes(prop(data, "pcm")), propBool(data, "last"))
	})
	if err != nil {
		return err
	}
	g.unlisten = release
	return callMethod(g.port, "start") // a MessagePort listened to with addEventListener must be started
}

func (g *pcmGraph) useScriptProcessor(onSamples func([]byte, bool)) (err error) {
	if g.sampler, err = g.audio.Call("createScriptProcessor", 4096, 1, 1); err != nil {
		return jsError(err)
	}
	release, err := g.b.listen(g.sampler, "audioprocess", func(ev safejs.Value) {
		onSamples(float32Bytes(must(prop(ev, "inputBuffer").Call("getChannelData", 0))), false)
	})
	g.unlisten = release
	return err
}

// float32Bytes copies a Float32Array's bytes into Go. It runs in an audio listener,
// whose boundary reports a failure, which a Float32Array cannot give.
func float32Bytes(f32 safejs.Value) []byte {
	length := propNumber(f32, "byteLength")
	view := must(global("Uint8Array").New(prop(f32, "buffer"), propNumber(f32, "byteOffset"), length))
	b := make([]byte, int(length))
	must(safejs.CopyBytesToGo(b, view))
	return b
}

// close takes the graph apart. Safe on a partial graph.
func (g *pcmGraph) close() {
	if g.unlisten != nil {
		g.unlisten()
		g.unlisten = nil
	}
	for _, node := range []safejs.Value{g.source, g.sampler} {
		if node.Type() == safejs.TypeObject {
			letGo(node, "disconnect")
		}
	}
}
