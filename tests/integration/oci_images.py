"""Tiny OCI images for the tests that push and deploy one without building it (no Docker)."""

import hashlib
import json
import tarfile
from io import BytesIO
from pathlib import Path

from hangar.deploy import image


def oci_archive(path: Path, label: str) -> image.ImageArchive:
    """A layerless linux/amd64 image whose config carries `label` (so each has its own digest)."""
    os_name, architecture = image.image_platform().split("/")
    config = json.dumps(
        {
            "architecture": architecture,
            "os": os_name,
            "config": {"Labels": {"test": label}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": len(manifest),
                }
            ],
        }
    ).encode()
    members = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": index,
        f"blobs/sha256/{config_digest[7:]}": config,
        f"blobs/sha256/{manifest_digest[7:]}": manifest,
    }
    with tarfile.open(path, "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, BytesIO(data))
    return image.read_archive(path)
