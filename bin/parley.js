#!/usr/bin/env node
// The `parley` command of a checkout: runs the compiled CLI (built by `npm ci` / `npm run build`).
// npm links this file into node_modules/.bin through the `file:bin` dependency; Node resolves the
// symlink, so the path below is relative to this folder in the checkout.
await import('../dist/cli/main.js');
