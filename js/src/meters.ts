// Audio level meters: a WebAudio AnalyserNode per stream, read by the views once per frame.

/** Maps the RMS of a block of samples to 0..1 on a -60..0 dBFS scale (how loudness is perceived). */
export function levelFromSamples(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length);
  if (rms <= 0) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

/** Meter smoothing for display: rise at once, fall slowly, so speech does not flicker. */
export function decay(previous: number, current: number, factor = 0.85): number {
  return Math.max(current, previous * factor);
}

export class LevelMeter {
  private readonly analyser: AnalyserNode;
  private readonly buffer: Float32Array<ArrayBuffer>;
  private source: MediaStreamAudioSourceNode | null = null;

  constructor(private readonly context: AudioContext) {
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.buffer = new Float32Array(this.analyser.fftSize);
  }

  /** Measures `stream` from now on (null: measure nothing). Not connected to the speakers. */
  attach(stream: MediaStream | null): void {
    this.source?.disconnect();
    this.source = null;
    if (!stream || stream.getAudioTracks().length === 0) return;
    this.source = this.context.createMediaStreamSource(stream);
    this.source.connect(this.analyser);
  }

  read(): number {
    if (!this.source) return 0;
    this.analyser.getFloatTimeDomainData(this.buffer);
    return levelFromSamples(this.buffer);
  }
}
