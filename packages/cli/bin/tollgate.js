#!/usr/bin/env node
// The installed `tollgate` command. It exists before the build (so pnpm can link it in a fresh
// checkout without a warning) and runs the built CLI.
import '../dist/bin.js';
