# Sourced by the scripts (and by you, from the repository root): non-interactive corepack, no telemetry, a `pnpm`
# on PATH (turbo needs one) without touching the system — corepack writes its shim into .tmp/bin — and the
# workspace's commands (node_modules/.bin: `memhp` once installed and built) on PATH.
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0 TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "10.34.9" ]; then
  mkdir -p .tmp/bin
  corepack enable --install-directory "$PWD/.tmp/bin" pnpm
  export PATH="$PWD/.tmp/bin:$PATH"
fi
case ":$PATH:" in *":$PWD/node_modules/.bin:"*) ;; *) export PATH="$PWD/node_modules/.bin:$PATH" ;; esac
