#!/usr/bin/env node
'use strict';
require('../dist/src/client/cli.js')
  .run(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
