// Not JavaScript.
export default { name: 'p' create() {} };
