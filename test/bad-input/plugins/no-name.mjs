// A policy entry without its name.
export default { description: 'x', create: () => ({}) };
