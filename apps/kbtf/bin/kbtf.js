#!/usr/bin/env node
// Committed shim so that npm links the `kbtf` bin before the first build; the code lives in dist/.
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
