#!/usr/bin/env node
// The `aiam` command. It runs the compiled CLI (built by `npm ci` / `npm run build`).
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err?.stack ?? String(err));
    process.exitCode = 1;
  },
);
