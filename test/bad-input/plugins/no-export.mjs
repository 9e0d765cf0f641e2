// Exports nothing a policy plugin can use.
export const something = 1;
