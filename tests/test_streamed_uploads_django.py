"""A method taking a FileStream, served by interlink.django: Django stores the upload before the
view runs (its upload handlers), so the method reads the stored file through the same
FileStream: it works, but is not streamed. Django's own RequestFactory; no network."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django_support import django_ready, new_user

django_ready()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from interlink import ApiServer, FileStream  # noqa: E402
from interlink.django import Role  # noqa: E402
from interlink.django._shell import DjangoShell  # noqa: E402
from interlink.store import MemoryKeys  # noqa: E402

SECRET = "s" * 40
KEY_ID = "k-00000000000000ab"


@pytest.fixture
def shell() -> DjangoShell:
    user = new_user(password="correct horse battery")
    api = ApiServer(authenticator=MemoryKeys({KEY_ID: (SECRET, Role(user=user, name="uploader"))}),
                    max_body_size=1024)

    @api.method(module="files")
    async def store(rl: Role, name: str, upload: FileStream) -> dict[str, object]:
        digest = hashlib.sha256()
        async for chunk in upload:
            digest.update(chunk)
        return {"name": name, "size": upload.received, "sha256": digest.hexdigest(),
                "complete": upload.complete, "filename": upload.filename}

    return DjangoShell(api)


def test_a_streamed_parameter_reads_djangos_stored_upload(shell: DjangoShell) -> None:
    data = bytes(range(256)) * (3 * 4096)  # 3 MiB: on disk in Django's temporary file
    request = RequestFactory().post("/api/files/store", {
        "authorisation": f"{KEY_ID}:{SECRET}", "name": "big.bin",
        "upload": SimpleUploadedFile("big.bin", data, content_type="application/octet-stream"),
    })
    response = shell.answer(request, "files/store")
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == {"name": "big.bin", "size": len(data), "filename": "big.bin",
                                            "sha256": hashlib.sha256(data).hexdigest(), "complete": True}


def test_without_the_file_the_answer_names_it(shell: DjangoShell) -> None:
    request = RequestFactory().post("/api/files/store", {"authorisation": f"{KEY_ID}:{SECRET}", "name": "x"})
    response = shell.answer(request, "files/store")
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["field"] == "upload"
