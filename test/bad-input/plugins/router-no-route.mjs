// A router whose instances lack route().
export const router = { name: 'r', create: () => () => ({ name: 'r' }) };
