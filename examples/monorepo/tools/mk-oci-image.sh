#!/bin/sh
# mk-oci-image.sh DIR OUT — writes a one-layer OCI image layout of DIR's files into OUT,
# byte-reproducibly, with nothing but tar, gzip and sha256sum (the example's "container build").
set -eu
src=$1 out=$2
mkdir -p "$out/blobs/sha256"
tmp=$(mktemp -d)
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=go-w -C "$src" -cf "$tmp/layer.tar" .
diff_id=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
gzip -n -9 <"$tmp/layer.tar" >"$tmp/layer.tar.gz"
layer=$(sha256sum "$tmp/layer.tar.gz" | cut -d' ' -f1)
layer_size=$(wc -c <"$tmp/layer.tar.gz" | tr -d ' ')
cp "$tmp/layer.tar.gz" "$out/blobs/sha256/$layer"
printf '{"architecture":"amd64","config":{"WorkingDir":"/"},"os":"linux","rootfs":{"diff_ids":["sha256:%s"],"type":"layers"}}' "$diff_id" >"$tmp/config.json"
config=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)
config_size=$(wc -c <"$tmp/config.json" | tr -d ' ')
cp "$tmp/config.json" "$out/blobs/sha256/$config"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" >"$tmp/manifest.json"
manifest=$(sha256sum "$tmp/manifest.json" | cut -d' ' -f1)
manifest_size=$(wc -c <"$tmp/manifest.json" | tr -d ' ')
cp "$tmp/manifest.json" "$out/blobs/sha256/$manifest"
printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
  "$manifest" "$manifest_size" >"$out/index.json"
rm -rf "$tmp"
