// Compiles every contracts/evm/src/*.sol with solc-js (standard JSON) into out/<Contract>.json:
// { contract, source, sourcesSha256, compiler, abi, bytecode, deployedBytecode }.
// sourcesSha256 covers every source file (name and text), so an edited import marks all stale.
// Imports of `@openzeppelin/contracts/...` are read from the OpenZeppelin Contracts package the
// bootstrap installed (its version is part of sourcesSha256); artifacts are written only for the
// contracts of src/.
// Usage: node build.js <solc-js dir> <out dir> <@openzeppelin/contracts dir>
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [solcDir, outDir, ozDir] = process.argv.slice(2);
if (!solcDir || !outDir || !ozDir) {
  console.error('usage: node build.js <solc-js dir> <out dir> <@openzeppelin/contracts dir>');
  process.exit(2);
}
const OZ = '@openzeppelin/contracts/';
const ozVersion = JSON.parse(fs.readFileSync(path.join(ozDir, 'package.json'), 'utf8')).version;
function findImports(name) {
  if (!name.startsWith(OZ)) return { error: `not found: ${name} (only ${OZ}... is importable)` };
  try {
    return { contents: fs.readFileSync(path.join(ozDir, name.slice(OZ.length)), 'utf8') };
  } catch (e) {
    return { error: `${name}: ${e.message}` };
  }
}
const solc = require(path.resolve(solcDir));
const srcDir = path.join(__dirname, 'src');
const files = fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort();
const sources = {};
for (const f of files) sources[f] = { content: fs.readFileSync(path.join(srcDir, f), 'utf8') };

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    // No metadata hash: the bytecode then depends only on the source and these settings.
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'storageLayout'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const hasher = crypto.createHash('sha256');
for (const f of files) hasher.update(f + '\0' + sources[f].content + '\0');
hasher.update(`@openzeppelin/contracts@${ozVersion}`);
const sha = hasher.digest('hex');

fs.mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  if (!files.includes(file)) continue; // imported library sources
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue; // interfaces
    const artifact = {
      contract: name,
      source: `src/${file}`,
      sourcesSha256: sha,
      compiler: `solc-js ${solc.version()}`,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      // Routers read some slots with storage proofs (Hub.outbound); tests derive them from here.
      storage: (c.storageLayout?.storage || []).map((v) => ({ label: v.label, slot: v.slot, offset: v.offset })),
    };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 1) + '\n');
    console.error(`  ${file} -> ${name}.json`);
  }
}
