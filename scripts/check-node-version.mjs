// Runs before `npm start`: Portico needs Node.js 24 LTS (>= 22.19 works); say how to get it.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(
    `portico: Node.js ${process.versions.node} is too old; Portico needs Node.js 24.\n` +
      'Run `. scripts/use-node24.sh` in this shell (it installs Node 24 from the npm registry into ~/.cache/portico), then `npm ci` again.',
  );
  process.exit(1);
}
