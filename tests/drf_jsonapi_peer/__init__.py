"""A Django REST framework JSON:API server at its stock settings: a real JSON:API target nobody
here wrote, for the sync-flow tests (served by gunicorn on loopback, see ``flows_peers.drf_peer``).

One ``Customer`` model at ``/customers``. The settings are those of DRF JSON:API's
documentation; ``DRF_PEER_FORMAT=camelize`` turns on its documented formatting options (type
``customers``, attribute ``externalId``), left unset the type is ``Customer`` and the attribute
``external_id``. Every request needs ``Authorization: Bearer $DRF_PEER_TOKEN``.
"""
