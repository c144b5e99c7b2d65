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
# SAS tokens (account SAS, signed here with the account key): a full one
# backs up and restores; a read-only one reads but cannot write; one signed
# with another key is refused; the token appears in no message.
sas=$(python3 "$TOP/tests/tools/azure_sas.py" devstoreaccount1 "$AZURITE_KEY")
sas_ro=$(python3 "$TOP/tests/tools/azure_sas.py" devstoreaccount1 "$AZURITE_KEY" rl)
sas_bad=$(python3 "$TOP/tests/tools/azure_sas.py" devstoreaccount1 "$wrong")
check "SAS: a backup and a restore with only a SAS token" env -u AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN="$sas" \
	sh -c "'$IMDR' backup '$U' '$T/src-azure' --quiet && '$IMDR' restore '$U' latest '$T/out-sas' --quiet && diff -r '$T/src-azure' '$T/out-sas'"
check "SAS read-only (sp=rl): snapshots and reads work" env -u AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN="$sas_ro" "$IMDR" snapshots "$U"
out=$(printf x | env -u AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN="$sas_ro" "$TOOLS/betool" "$U" put sas/new 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *sas/new* ]] && [[ "$out" == *403* ]] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]; then pass "SAS read-only: a write is refused with 403, object named, in one line ($out)"; else fail "SAS ro write: rc=$rc $out"; fi
out=$(env -u AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN="$sas_bad" "$IMDR" snapshots "$U" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *403* ]]; then pass "SAS signed with another key: 403 ($out)"; else fail "bad SAS: rc=$rc $out"; fi
sig=${sas##*sig=}
out=$(env -u AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN="$sas" IMDR_DEBUG=1 "$IMDR" snapshots "azure://devstoreaccount1/nosuch/x?endpoint=http://127.0.0.1:$AZ_PORT/devstoreaccount1" 2>&1)
check "the SAS signature appears in no message" sh -c "! printf '%s' \"\$1\" | grep -qF -- \"\$2\"" _ "$out" "$sig"
exit 0
