#!/usr/bin/env node
// The installed `stepwise` command: a committed, executable file (tsc writes dist/main.js
// without the executable bit), loading the built program.
import '../dist/main.js';
