#!/bin/bash
# Azure Blob against Azurite, which checks Shared Key signatures: init
# (container created), two backups, restore, mount, diff -r, check; a wrong
# key is refused with status and error code; listing with markers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"
start_azurite || { fail "azurite did not start (make test-deps installs it): $(tail -3 "$T/azurite.log" 2>/dev/null)"; exit 1; }
U="azure://devstoreaccount1/imdrtest/repo?endpoint=http://127.0.0.1:$AZ_PORT/devstoreaccount1"

roundtrip azure "$U"
objects azure "azure://devstoreaccount1/imdrtest/raw?endpoint=http://127.0.0.1:$AZ_PORT/devstoreaccount1"
check "listing in pages of 2 blobs (markers) sees every snapshot" \
	test "$("$IMDR" snapshots "$U&maxresults=2" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2
wrong='Fby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
out=$(AZURE_STORAGE_KEY=$wrong "$IMDR" snapshots "$U" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *403* ]] && [[ "$out" == *AuthorizationFailure* ]]; then pass "a wrong key is refused by the service, status and code named ($out)"; else fail "wrong key: rc=$rc $out"; fi
check "the key appears in no message" sh -c "! printf '%s' \"$out\" | grep -q Fby8vd"
out=$(env -u AZURE_STORAGE_KEY "$IMDR" snapshots "$U" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"no Azure credentials"* ]]; then pass "missing credentials are a clear error"; else fail "no creds: rc=$rc $out"; fi
exit 0
