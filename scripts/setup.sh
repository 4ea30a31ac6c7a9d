#!/usr/bin/env bash
# Set up wgpt on a fresh Debian/Ubuntu machine: the system packages WebGPU needs without a GPU, then npm ci (which
# builds dist/ and the WebAssembly kernels: the `prepare` script runs `npm run build`).
#   chromium    ships SwiftShader, a Vulkan driver that runs on the CPU (used when there is no GPU)
#   libvulkan1  the Vulkan loader Dawn (the `webgpu` package) opens
# Run as root, or with sudo available. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -e /usr/lib/chromium/vk_swiftshader_icd.json ] || need+=(chromium)
compgen -G '/usr/lib/*/libvulkan.so.1' >/dev/null || [ -e /usr/lib/libvulkan.so.1 ] || need+=(libvulkan1)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${need[*]} (WebGPU on the CPU when there is no GPU)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: cannot install ${need[*]} without apt-get; install a GPU driver with Vulkan, or SwiftShader, by hand" >&2
  fi
fi

# npm ci also builds dist/ (the `prepare` script); when node_modules is current, build it here
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm run build --silent
fi
echo "setup: done. Try: npx wgpt generate \"ROMEO:\""
