import { mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

// Every CLI test spawns real processes (the built CLI, MCP servers from npm): give each test and
// hook more room than unit tests need, for slow, loaded CI machines.
export default mergeConfig(shared, { test: { testTimeout: 120_000, hookTimeout: 120_000 } });
