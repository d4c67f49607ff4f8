from rest_framework import routers

from drf_jsonapi_peer.views import CustomerViewSet

router = routers.SimpleRouter(trailing_slash=False)
router.register("customers", CustomerViewSet)
urlpatterns = router.urls
