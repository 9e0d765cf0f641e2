// Fails when loaded.
throw new Error('plugin failed at load time');
