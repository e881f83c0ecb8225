#!/bin/sh
# deterministic-tar.sh DIR OUT.tar.gz — a byte-reproducible gzip'd tar of DIR.
set -eu
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=go-w -cf - "$1" | gzip -n -9 >"$2"
