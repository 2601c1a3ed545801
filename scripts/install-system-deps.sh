#!/usr/bin/env bash
# Installs the Debian packages the harness uses and a fresh machine lacks:
#   chromium            the browser Playwright drives (playwright install cannot download here)
#   espeak-ng, sox      spoken prompts for the fake microphone
#   debootstrap         builds the local Docker base image when no registry is reachable
#   fonts-wqy-zenhei    a CJK font, so screenshots show the seeds' Chinese UI strings
#   fonts-noto-color-emoji  the seeds' ✅/❌ marks, which the diagnostics pages show
#   ffmpeg              Playwright's video recording (its own ffmpeg download is unreachable here)
# Skips what is already there; needs root (or sudo) and Debian's package index.
set -euo pipefail

declare -A provides=([chromium]=chromium [espeak-ng]=espeak-ng [sox]=sox [debootstrap]=debootstrap [ffmpeg]=ffmpeg)
missing=()
for package in "${!provides[@]}"; do
  command -v "${provides[$package]}" >/dev/null 2>&1 || [ -x "/usr/sbin/${provides[$package]}" ] || missing+=("$package")
done
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (chromium espeak-ng sox debootstrap ffmpeg, CJK and emoji fonts)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages missing: ${missing[*]}; this script knows only apt-get (Debian/Ubuntu): install them by hand" >&2
  exit 2
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root to install: ${missing[*]}" >&2; exit 2; }
  sudo="sudo"
fi
echo "system packages: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}"
