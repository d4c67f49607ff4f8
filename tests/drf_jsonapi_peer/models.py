from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True, default="")
    # No unique constraint on purpose: a duplicate create by a sync shows as a second row.
    external_id = models.CharField(max_length=100, blank=True, null=True)
    updated_at = models.DateTimeField(auto_now=True)
