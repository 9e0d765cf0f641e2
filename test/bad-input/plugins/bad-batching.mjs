// A policy whose instances have a rank batching without displacement.
export default { name: 'p', create: () => ({ name: 'P', batching: { mode: 'rank', stallFree: false }, attach() {}, priority: () => 0 }) };
