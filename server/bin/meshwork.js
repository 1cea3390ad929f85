#!/usr/bin/env node
// The `meshwork` command. This file is committed (npm links it at install, before the build
// has made dist/); the command itself is server/src/cli.ts, compiled to dist/cli.js.
import '../dist/cli.js';
