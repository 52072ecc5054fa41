#!/usr/bin/env bash
# scripts/deps.sh — installs what the MpegFlow tests need, when it is missing.
#
#   ffmpeg, ffprobe      Debian package ffmpeg       (publisher, ffprobe checks)
#   chromium             Debian package chromium     (headless player in test/)
#   initdb, pg_ctl       Debian package postgresql   (throwaway PostgreSQL clusters)
#   node, npm            Debian packages nodejs npm  (only if absent; the machine image has Node 20)
#   node_modules/        npm ci (hls.js, tus-js-client, playwright-core) from package-lock.json
#
# Idempotent: with everything present it prints a single summary line.
# When something is missing and cannot be installed (not root and no sudo, or
# no apt-get) it prints ONE line naming what to install and exits 1.
#
# Environment:
#   MPEGFLOW_DEPS_DRY_RUN=1   print what would be installed / run, change nothing
#                             (exits 0; used to test the logic paths).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY="${MPEGFLOW_DEPS_DRY_RUN:-}"

have() { command -v "$1" >/dev/null 2>&1; }

# have_pg finds PostgreSQL's server tools on PATH or in Debian's versioned
# directory (/usr/lib/postgresql/<major>/bin), which is not on PATH.
have_pg() {
	local tool="$1" d
	have "$tool" && return 0
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/$tool" ] && return 0
	done
	return 1
}

have_chromium() {
	have chromium || [ -x /usr/bin/chromium ]
}

pkgs=()
add() {
	local p
	for p in "$@"; do
		case " ${pkgs[*]-} " in *" $p "*) ;; *) pkgs+=("$p") ;; esac
	done
}

have ffmpeg || add ffmpeg
have ffprobe || add ffmpeg
have_chromium || add chromium
{ have_pg initdb && have_pg pg_ctl; } || add postgresql
have node || add nodejs
have npm || add npm

installed="none"
if [ "${#pkgs[@]}" -gt 0 ]; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		if have sudo; then
			SUDO="sudo -n"
		else
			SUDO="none"
		fi
	fi
	if [ -n "$DRY" ]; then
		echo "deps: dry run: would run ${SUDO:+$SUDO }apt-get update && apt-get install -y --no-install-recommends ${pkgs[*]}"
	else
		if ! have apt-get || [ "$SUDO" = "none" ]; then
			echo "deps: missing tools; install these Debian packages (or equivalents) and re-run: ${pkgs[*]}" >&2
			exit 1
		fi
		log="$(mktemp)"
		trap 'rm -f "$log"' EXIT
		if ! { DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } >"$log" 2>&1; then
			tail -n 20 "$log" >&2
			echo "deps: apt-get could not install: ${pkgs[*]}; install them by hand and re-run" >&2
			exit 1
		fi
	fi
	installed="${pkgs[*]}"
	[ -n "$DRY" ] && installed="would install ${pkgs[*]}"
fi

# npm packages: npm ci when node_modules is missing or older than the lock
# (or than package.json when there is no lock yet).
npm_action="up to date"
cd "$ROOT"
if [ -f package.json ]; then
	lock="package-lock.json"
	[ -f "$lock" ] || lock="package.json"
	stamp="node_modules/.package-lock.json" # npm writes this on every install
	if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
		if [ -f package-lock.json ]; then cmd=(npm ci); else cmd=(npm install); fi
		cmd+=(--no-audit --no-fund --loglevel=error)
		if [ -n "$DRY" ]; then
			echo "deps: dry run: would run ${cmd[*]} in $ROOT"
			npm_action="dry run"
		else
			if ! have npm; then
				echo "deps: npm not found; install Node.js 20+ with npm and re-run" >&2
				exit 1
			fi
			log="$(mktemp)"
			if ! "${cmd[@]}" >"$log" 2>&1; then
				tail -n 20 "$log" >&2
				rm -f "$log"
				echo "deps: '${cmd[*]}' failed in $ROOT" >&2
				exit 1
			fi
			rm -f "$log"
			touch "$stamp"
			npm_action="${cmd[0]} ${cmd[1]} done"
		fi
	fi
fi

echo "deps: ok (apt installed: $installed; npm: $npm_action)"
