# Ported from zgw-consumers 2.0.3 (maykinmedia/zgw-consumers@291c2c8) tests/test_pagination_helper.py.
# Adaptations (see README.md): imports; requests-mock replaced by a real server on 127.0.0.1
# (fake_network.py), so "https://example.com" is that server's root (fake_network.ROOT);
# Django's ServiceFactory/Service by records build_client reads (factories.py).
# BOOK_API_ROOT is book_api_root(), the server's URL; the django_db mark is gone.
import pytest

from interlink.http import build_client, pagination_helper

from . import fake_network
from .factories import APITypes, AuthTypes, Service


def book_api_root():  # adapted: was BOOK_API_ROOT = "https://book.example.org/api/v1/"
    return f"{fake_network.ROOT}/api/v1/"


def test_paginated_results(settings, requests_mock):
    """
    check that function works and doesn't fall into infinite loop
    """
    requests_mock.get(
        f"{book_api_root()}books",
        complete_qs=True,
        json={
            "count": 2,
            "next": f"{book_api_root()}books?page=2",
            "previous": None,
            "results": [{"name": "A"}],
        },
    )
    requests_mock.get(
        f"{book_api_root()}books?page=2",
        complete_qs=True,
        json={
            "count": 2,
            "next": None,
            "previous": f"{book_api_root()}books?page=1",
            "results": [{"name": "B"}],
        },
    )

    service = Service.objects.create(
        api_type=APITypes.orc,
        api_root=book_api_root(),
        auth_type=AuthTypes.no_auth,
    )
    client = build_client(service)

    response = client.get("books")
    response.raise_for_status()
    data = response.json()

    all_data = pagination_helper(client, data)

    assert list(all_data) == [{"name": "A"}, {"name": "B"}]


def test_paginated_results_without_next(settings, requests_mock):
    """
    check that function doesn't crash if next-link is missing
    """
    requests_mock.get(
        f"{book_api_root()}books",
        complete_qs=True,
        json={
            "count": 2,
            "results": [{"name": "A"}],
        },
    )
    service = Service.objects.create(
        api_type=APITypes.orc,
        api_root=book_api_root(),
        auth_type=AuthTypes.no_auth,
    )
    client = build_client(service)

    response = client.get("books")
    response.raise_for_status()
    data = response.json()

    all_data = pagination_helper(client, data)

    assert list(all_data) == [{"name": "A"}]


def test_paginated_results_max_requests(settings, requests_mock):
    """
    check that function works and doesn't fall into infinite loop
    """
    requests_mock.get(
        f"{book_api_root()}books",
        complete_qs=True,
        json={
            "count": 3,
            "next": f"{book_api_root()}books?page=2",
            "previous": None,
            "results": [{"name": "A"}],
        },
    )
    requests_mock.get(
        f"{book_api_root()}books?page=2",
        complete_qs=True,
        json={
            "count": 3,
            "next": f"{book_api_root()}books?page=3",
            "previous": f"{book_api_root()}books?page=1",
            "results": [{"name": "B"}],
        },
    )
    requests_mock.get(
        f"{book_api_root()}books?page=3",
        complete_qs=True,
        json={
            "count": 3,
            "next": None,
            "previous": f"{book_api_root()}books?page=2",
            "results": [{"name": "C"}],
        },
    )

    service = Service.objects.create(
        api_type=APITypes.orc,
        api_root=book_api_root(),
        auth_type=AuthTypes.no_auth,
    )
    client = build_client(service)

    response = client.get("books")
    response.raise_for_status()
    data = response.json()

    all_data = pagination_helper(client, data, max_requests=1)

    assert list(all_data) == [{"name": "A"}, {"name": "B"}]
