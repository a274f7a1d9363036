// The solc-js side of forge/solc: standard JSON in on stdin, out on stdout. forge sends every
// source's content; an import it did not send is read from the project, or from the
// OpenZeppelin Contracts package the bootstrap installed.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(process.env.XROUTE_SOLCJS);
const OZ = '@openzeppelin/contracts/';
function findImports(name) {
  const candidates = name.startsWith(OZ)
    ? [path.join(process.env.XROUTE_OPENZEPPELIN, name.slice(OZ.length))]
    : [path.resolve(name), path.resolve(__dirname, '..', name)];
  for (const file of candidates) {
    try {
      return { contents: fs.readFileSync(file, 'utf8') };
    } catch (_) { /* next */ }
  }
  return { error: `not found: ${name}` };
}
const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
