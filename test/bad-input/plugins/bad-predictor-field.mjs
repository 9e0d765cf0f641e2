// A policy entry with a bad predictor field.
export default { name: 'p', predictor: 'always', create: () => ({}) };
