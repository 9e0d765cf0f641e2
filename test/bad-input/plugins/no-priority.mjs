// A policy whose instances lack priority().
export default { name: 'p', create: () => ({ name: 'P', batching: { mode: 'admit' }, attach() {} }) };
