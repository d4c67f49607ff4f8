from rest_framework import viewsets
from rest_framework_json_api import serializers

from drf_jsonapi_peer.models import Customer


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["name", "email", "external_id", "updated_at"]
        read_only_fields = ["updated_at"]


class CustomerViewSet(viewsets.ModelViewSet):
    queryset = Customer.objects.order_by("id")
    serializer_class = CustomerSerializer
    # DRF JSON:API's documented filter spelling: filter[id.in]=1,2, filter[external_id.in]=a,b
    filterset_fields = {"id": ("exact", "in"), "external_id": ("exact", "in")}
