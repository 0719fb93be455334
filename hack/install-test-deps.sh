#!/usr/bin/env bash
# Installs the real servers the provider tests run against, when they are missing:
# OpenLDAP slapd, PostgreSQL and its pgaudit extension from Debian's packages, and the scimmy SCIM server
# from the npm registry (hack/scimmy-server). Safe to run again: it does nothing
# when everything is there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need=()
command -v slapd >/dev/null 2>&1 || [[ -x /usr/sbin/slapd ]] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)

if ((${#need[@]})); then
	echo ">> installing ${need[*]} from Debian's packages" >&2
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-test-deps: need root to install ${need[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# slapd's postinst would otherwise start a system slapd; the tests start their own.
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	if command -v service >/dev/null 2>&1; then
		service slapd stop >/dev/null 2>&1 || true
		service postgresql stop >/dev/null 2>&1 || true
	fi
fi

# pgaudit is built for one server major: install the one for the newest server
# installed, the one pgtest runs (the activity tests read its audit log).
pg_major=""
for initdb in /usr/lib/postgresql/*/bin/initdb; do
	[[ -x "${initdb}" ]] || continue
	major=${initdb#/usr/lib/postgresql/}
	major=${major%%/*}
	if [[ -z "${pg_major}" ]] || ((major > pg_major)); then
		pg_major=${major}
	fi
done
if [[ -n "${pg_major}" && ! -f "/usr/lib/postgresql/${pg_major}/lib/pgaudit.so" ]]; then
	echo ">> installing postgresql-${pg_major}-pgaudit from Debian's packages" >&2
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-test-deps: need root to install postgresql-${pg_major}-pgaudit" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "postgresql-${pg_major}-pgaudit" >/dev/null
fi

scimmy="${root}/hack/scimmy-server"
if [[ -f "${scimmy}/package.json" && ! -d "${scimmy}/node_modules" ]]; then
	echo ">> installing the scimmy SCIM server (npm ci)" >&2
	(cd "${scimmy}" && npm ci --no-audit --no-fund --silent)
fi
