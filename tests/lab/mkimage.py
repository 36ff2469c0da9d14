#!/usr/bin/env python3
"""mkimage.py DIR: write a tiny OCI image layout (tag "1") without any network access:
one layer of a few KB and one of ~200 KB of incompressible bytes, so a push carries
full-size TCP segments.  Deterministic: same bytes every run."""
import gzip, hashlib, io, json, os, random, sys, tarfile

def tar_gz(files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0; ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as g:
        g.write(raw.getvalue())
    return raw.getvalue(), out.getvalue()

def main():
    d = sys.argv[1]
    blobs = os.path.join(d, "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
    def put(data: bytes) -> str:
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return h
    rnd = random.Random(1234)
    small_raw, small = tar_gz([("hello.txt", b"hello from the acrdiag lab\n" * 100)])
    big_raw, big = tar_gz([("payload.bin", bytes(rnd.getrandbits(8) for _ in range(200 * 1024)))])
    layers = []
    for raw, gz in ((small_raw, small), (big_raw, big)):
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": "sha256:" + put(gz), "size": len(gz),
                       "diff": "sha256:" + hashlib.sha256(raw).hexdigest()})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/hello.txt"]},
                         "rootfs": {"type": "layers", "diff_ids": [l["diff"] for l in layers]}},
                        separators=(",", ":")).encode()
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:" + put(config), "size": len(config)},
                           "layers": [{k: l[k] for k in ("mediaType", "digest", "size")} for l in layers]},
                          separators=(",", ":")).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + put(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "1"}}]}
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

if __name__ == "__main__":
    main()
