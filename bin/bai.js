#!/usr/bin/env node
// The one binary: the CLI, `bai manager` and `bai agent` are subcommands. Built code lives in dist/.
import '../dist/src/cli/main.js';
