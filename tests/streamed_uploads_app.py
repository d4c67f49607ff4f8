"""A site whose ``files.store`` streams its upload to a directory, as the API-calls
specification's storage machines do: routed by the ``store`` query argument, written to a
temporary name and renamed only once the upload is complete (so a cut one leaves nothing).

``make_api(directory)`` builds it; run as a script (``python streamed_uploads_app.py DIR PORT``)
it serves under uvicorn, for the tests that measure a server process's memory.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from interlink import ApiServer, Role
from interlink.store import MemoryKeys
from interlink.store import Role as RoleRow
from interlink.wire import FileStream, FileUpload, UploadCut

KEY_ID = "k-0123456789abcdef"
SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAbCd"

#: what each call of files.store saw, in order: ("start", store, name) before the first read,
#: ("stored", store, name, size) or ("cut", store, name, received) after it
EVENTS: list[tuple[object, ...]] = []


def make_api(directory: Path, **limits: object) -> ApiServer:
    api = ApiServer(authenticator=MemoryKeys({KEY_ID: (SECRET, RoleRow(name="uploader"))}), **limits)  # type: ignore[arg-type]
    files = api.module("files")

    @files.method
    async def store(rl: Role, store: str, name: str, upload: FileStream) -> dict[str, object]:
        """Store an upload on this machine, streamed; its size and SHA-256."""
        EVENTS.append(("start", store, name))
        partial = directory / f".{name}.partial"
        digest = hashlib.sha256()
        try:
            with open(partial, "wb") as out:
                async for chunk in upload:
                    digest.update(chunk)
                    out.write(chunk)
        except UploadCut:
            EVENTS.append(("cut", store, name, upload.received))
            partial.unlink(missing_ok=True)
            raise
        assert upload.complete
        os.replace(partial, directory / name)
        EVENTS.append(("stored", store, name, upload.received))
        return {"size": upload.received, "sha256": digest.hexdigest(), "filename": upload.filename}

    @files.method
    async def digest(rl: Role, upload: FileStream) -> dict[str, object]:
        """Size and SHA-256 of an upload, kept nowhere: for measuring memory."""
        sha = hashlib.sha256()
        async for chunk in upload:
            sha.update(chunk)
        return {"size": upload.received, "sha256": sha.hexdigest(), "complete": upload.complete}

    @files.method
    async def head(rl: Role, upload: FileStream, first: int = 16) -> str:
        """The first bytes of an upload, without reading the rest."""
        return (await upload.read(first)).decode("latin-1")

    @files.method
    def whole(rl: Role, upload: FileUpload) -> int:
        """A plain FileUpload: read after the whole body arrived, as before."""
        return len(upload.read())

    return api


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(make_api(Path(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
