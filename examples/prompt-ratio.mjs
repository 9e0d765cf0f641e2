// A length-predictor plugin for `--predictor ./examples/prompt-ratio.mjs` (docs/plugins.md):
// predicts each request's output as `ratio` x its prompt tokens (at least 1), never refined.
// Option: ratio (a positive number, default 0.5).

class PromptRatio {
  name = 'prompt-ratio';
  refineEvery = Infinity;
  cost = undefined;
  prediction = new Int32Array(0);
  mae = null;

  constructor(ratio) {
    this.ratio = ratio;
  }

  attach(trace) {
    this.prediction = new Int32Array(trace.n);
    let err = 0;
    for (let i = 0; i < trace.n; i++) {
      this.prediction[i] = Math.max(1, Math.round(this.ratio * trace.prompt_tokens[i]));
      err += Math.abs(this.prediction[i] - trace.output_tokens[i]);
    }
    this.mae = trace.n > 0 ? err / trace.n : null;
  }

  predicted(id) {
    return this.prediction[id];
  }

  bucket() {
    return -1;
  }

  remaining(id, generated) {
    return Math.max(0, this.prediction[id] - generated);
  }

  quality() {
    return { kendall_tau: null, mae_tokens: this.mae, bucket_accuracy: null };
  }
}

/** A named export works as well as a default one. */
export const predictor = {
  name: 'prompt-ratio',
  description: 'output = ratio x prompt tokens (option ratio, default 0.5), fixed at arrival',
  source: 'examples/prompt-ratio.mjs (docs/plugins.md): a plugin example, not from a paper',
  create(opts) {
    for (const k of Object.keys(opts)) if (k !== 'ratio') throw new Error(`unknown option '${k}'; valid: ratio`);
    const ratio = opts.ratio === undefined ? 0.5 : Number(opts.ratio);
    if (!(ratio > 0) || !Number.isFinite(ratio)) throw new Error(`ratio must be a positive number (got '${opts.ratio}')`);
    return new PromptRatio(ratio);
  },
};
