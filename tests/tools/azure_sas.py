#!/usr/bin/env python3
# azure_sas.py ACCOUNT KEY [PERMS] — print an account SAS token (Blob
# service, version 2021-08-06, valid until 2099) signed with KEY, for the
# Azure integration test. Only the test uses it; it talks to no service.
import base64, hashlib, hmac, sys, urllib.parse

account, key = sys.argv[1], sys.argv[2]
perms = sys.argv[3] if len(sys.argv) > 3 else "rwdlac"
fields = {"sv": "2021-08-06", "ss": "b", "srt": "sco", "sp": perms,
          "se": "2099-01-01T00:00:00Z", "spr": "https,http"}
sts = "\n".join([account, perms, "b", "sco", "", fields["se"], "", fields["spr"],
                 fields["sv"], "", ""])
sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest())
fields["sig"] = sig.decode()
print(urllib.parse.urlencode(fields))
