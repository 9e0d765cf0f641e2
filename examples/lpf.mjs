// Longest prompt first (LPF): a policy plugin for `sim --policy ./examples/lpf.mjs` (docs/plugins.md).
// The request with the longest prompt is admitted first (ties in arrival order), in vLLM v0's
// admit mode: running requests keep running, and under KV pressure the running request with the
// shortest prompt (largest key) is preempted. Options: none.

/** One instance per replica: keys are minus the prompt length in tokens, fixed at arrival. */
class LongestPromptFirst {
  name = 'LPF';
  batching = { mode: 'admit' };
  requests = undefined;

  attach(ctx) {
    this.requests = ctx.requests;
  }

  priority(id) {
    return -this.requests.prompt[id];
  }
}

/** The registry entry (sim/policy.ts PolicyEntry). */
export default {
  name: 'lpf',
  description: 'longest prompt first: key = -prompt tokens, fixed at arrival (admit mode)',
  source: 'examples/lpf.mjs (docs/plugins.md): a plugin example, not from a paper',
  predictor: 'none',
  create(opts) {
    const unknown = Object.keys(opts);
    if (unknown.length > 0) throw new Error(`lpf takes no options (got ${unknown.join(', ')})`);
    return new LongestPromptFirst();
  },
};
