// A policy entry whose create is not a function.
export default { name: 'p', create: 'fcfs' };
